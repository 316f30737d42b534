// Dated advice: settings the seed documents recommend that current kernels and distributions
// removed, ignore or renamed (seeds/README.md "Where the seeds are dated"). `hvtune validate`
// and `hvtune play` print these as warnings with file:line:col; they never fail a run, because
// the playbook may target old hosts on purpose. Pure: it reads the loaded playbook only.
//
// The rules here read the text of any argument of any module. Where a dated setting hides in a
// module's own argument shapes (a sysfs attribute, a command's argv), the module says so through
// Module.advise, with the advice exported here.

import type { InputProblem } from './errors.js';
import type { Advice, ArgLeaf } from './module.js';
import { taskArgsPath, taskModule, type Playbook } from './playbook.js';
import { formatPath, type SourcePath } from './source.js';

export interface DatedRule {
  id: string;
  /** The advice for this argument's text, or null. */
  check(leaf: ArgLeaf): Advice | null;
}

export const TCP_TW_RECYCLE: Advice = {
  id: 'tcp_tw_recycle',
  message:
    'net.ipv4.tcp_tw_recycle was removed in Linux 4.12 (and broke clients behind NAT before that): ' +
    'setting it fails on current kernels; drop it (net.ipv4.tcp_tw_reuse is the part of that advice that still holds)',
};

export const ELEVATOR: Advice = {
  id: 'elevator',
  message:
    'elevator= on the kernel command line does nothing since Linux 5.0 (blk-mq): set the scheduler per device ' +
    'with the sysfs module (block: {match: "sd*", attributes: {queue/scheduler: mq-deadline}}), which persists it by a udev rule',
};

export const KVM_HUGEPAGES: Advice = {
  id: 'KVM_HUGEPAGES',
  message:
    '/etc/default/qemu-kvm KVM_HUGEPAGES is obsolete: current distributions ship no qemu-kvm init script that reads it. ' +
    'Give guests huge pages with a hugepage pool, a hugetlbfs mount and libvirt_domain memory_backing: {hugepages: true} ' +
    '(playbooks/hugepages.yml)',
};

export const IFCONFIG_TXQUEUELEN: Advice = {
  id: 'ifconfig-txqueuelen',
  message:
    'ifconfig … txqueuelen is dated (net-tools is deprecated): today it is `ip link set dev IF txqueuelen N`, ' +
    'and the ethtool module sets txqueuelen and persists it across reboots',
};

export const MAX_VFS: Advice = {
  id: 'max_vfs',
  message:
    'the max_vfs module option (igb, ixgbe) is the legacy way to create SR-IOV VFs: current drivers take the count ' +
    'from /sys/class/net/IF/device/sriov_numvfs (i40e, ice and mlx5 have no max_vfs at all); use the sriov module ' +
    '({device: IF, numvfs: N}), which sets it live, persists it and refuses to remove VFs running domains hold',
};

const OLD_SCHEDULERS: Record<string, string> = { cfq: 'bfq', noop: 'none', deadline: 'mq-deadline' };
const OLD_SCHEDULER_WORD = /(?<![\w-])(cfq|noop|deadline)(?![\w-])/;

const SCHEDULER_NAME = 'scheduler-name';
const schedulerAdvice = (name: string): Advice => ({
  id: SCHEDULER_NAME,
  message:
    `the I/O scheduler "${name}" is gone since Linux 5.0 (blk-mq schedulers: mq-deadline, bfq, kyber, none): ` +
    `use ${OLD_SCHEDULERS[name]} (cfq → bfq, noop → none, deadline → mq-deadline)`,
});

export const OLD_SCHEDULER = {
  id: SCHEDULER_NAME,
  /** The advice for an I/O scheduler name gone since Linux 5.0 standing as a word in `text`, or null. */
  in(text: string): Advice | null {
    const name = OLD_SCHEDULER_WORD.exec(text)?.[1];
    return name ? schedulerAdvice(name) : null;
  },
};

const HUGEPAGESZ_GB = 'hugepagesz-GB';

/** The rules, in the order their warnings for one argument are printed. */
export const DATED_RULES: DatedRule[] = [
  { id: TCP_TW_RECYCLE.id, check: (leaf) => (/\btcp_tw_recycle\b/.test(leaf.text) ? TCP_TW_RECYCLE : null) },
  { id: ELEVATOR.id, check: (leaf) => (/\belevator=/.test(leaf.text) ? ELEVATOR : null) },
  {
    id: OLD_SCHEDULER.id,
    check: (leaf) => {
      const name = /\belevator=(cfq|noop|deadline)\b/.exec(leaf.text)?.[1];
      if (name) return schedulerAdvice(name);
      return /queue\/scheduler/.test(leaf.text) ? OLD_SCHEDULER.in(leaf.text) : null;
    },
  },
  {
    id: HUGEPAGESZ_GB,
    check: (leaf) => {
      const m = /\b((?:default_)?hugepagesz)=(\d+)GB\b/i.exec(leaf.text);
      return m
        ? {
            id: HUGEPAGESZ_GB,
            message:
              `${m[0]}: write ${m[1]}=${m[2]}G, the form the kernel documents (kernel-parameters.txt); ` +
              'command-line arguments are compared as text, so 1GB and 1G would count as two different values',
          }
        : null;
    },
  },
  { id: KVM_HUGEPAGES.id, check: (leaf) => (/\bKVM_HUGEPAGES\b/.test(leaf.text) ? KVM_HUGEPAGES : null) },
  { id: IFCONFIG_TXQUEUELEN.id, check: (leaf) => (/\bifconfig\b[^\n]*\btxqueuelen\b/.test(leaf.text) ? IFCONFIG_TXQUEUELEN : null) },
];

/** Every key and string value in a task's arguments, depth first, with its path. */
export function argLeaves(args: unknown, at: (string | number)[] = []): ArgLeaf[] {
  if (typeof args === 'string') return [{ path: at, text: args, isKey: false }];
  if (Array.isArray(args)) return args.flatMap((item, i) => argLeaves(item, [...at, i]));
  if (args !== null && typeof args === 'object') {
    return Object.entries(args).flatMap(([key, value]) => [
      { path: [...at, key], text: key, isKey: true },
      ...argLeaves(value, [...at, key]),
    ]);
  }
  return [];
}

/** Warnings for dated advice in a loaded playbook, in file order; severity 'warning'. */
export function datedAdvice(playbook: Playbook, rules: readonly DatedRule[] = DATED_RULES): InputProblem[] {
  const problems: InputProblem[] = [];
  const seen = new Set<string>();
  // a module's own advice is printed in the place of the rule of the same id
  const rank = (a: Advice) => {
    const i = rules.findIndex((r) => r.id === a.id);
    return i < 0 ? rules.length : i;
  };
  for (const play of playbook.plays) {
    for (const task of [...play.tasks, ...play.handlers]) {
      const argsAt: SourcePath = taskArgsPath(task);
      const module = taskModule(task);
      for (const leaf of argLeaves(task.args)) {
        const generic = rules.map((r) => r.check(leaf)).filter((a): a is Advice => a !== null);
        const advice = module.advise ? module.advise(leaf, task.args, generic) : generic;
        for (const { id, message } of [...advice].sort((a, b) => rank(a) - rank(b))) {
          const key = `${id}\u0000${task.path}\u0000${leaf.path.join('\u0000')}`;
          if (seen.has(key)) continue;
          seen.add(key);
          problems.push({
            pos: task.source.pos([...argsAt, ...leaf.path]),
            path: formatPath([task.module, ...leaf.path], task.path),
            message,
            severity: 'warning',
          });
        }
      }
    }
  }
  return problems;
}
