// Dated advice: settings the seed documents recommend that current kernels and distributions
// removed, ignore or renamed (seeds/README.md "Where the seeds are dated"). `hvtune validate`
// and `hvtune play` print these as warnings with file:line:col; they never fail a run, because
// the playbook may target old hosts on purpose. Pure: it reads the loaded playbook only.

import type { InputProblem } from './errors.js';
import type { Playbook, Task } from './playbook.js';
import { formatPath, type SourcePath } from './source.js';

/** A string found in a task's raw arguments: a mapping key or a scalar value, with its path. */
export interface ArgLeaf {
  /** Path inside the task's module arguments (`['values', 'net.ipv4.tcp_tw_recycle']`). */
  path: SourcePath;
  text: string;
  isKey: boolean;
}

export interface DatedRule {
  id: string;
  /** The warning for this leaf of a task, or null. */
  check(task: Task, leaf: ArgLeaf): string | null;
}

const OLD_SCHEDULERS: Record<string, string> = { cfq: 'bfq', noop: 'none', deadline: 'mq-deadline' };
const OLD_SCHEDULER_WORD = /(?<![\w-])(cfq|noop|deadline)(?![\w-])/;

const underPresent = (leaf: ArgLeaf) => leaf.path[0] === 'present';
const isSchedulerAttribute = (task: Task, leaf: ArgLeaf) =>
  task.module === 'sysfs' &&
  !leaf.isKey &&
  ((leaf.path[0] === 'block' && leaf.path[1] === 'attributes' && leaf.path[2] === 'queue/scheduler') ||
    (leaf.path[0] === 'value' && /\/queue\/scheduler$/.test(String((task.args as { path?: unknown }).path ?? ''))));

export const DATED_RULES: DatedRule[] = [
  {
    id: 'tcp_tw_recycle',
    check: (_task, leaf) =>
      /\btcp_tw_recycle\b/.test(leaf.text)
        ? 'net.ipv4.tcp_tw_recycle was removed in Linux 4.12 (and broke clients behind NAT before that): ' +
          'setting it fails on current kernels; drop it (net.ipv4.tcp_tw_reuse is the part of that advice that still holds)'
        : null,
  },
  {
    id: 'elevator',
    check: (task, leaf) => {
      const onCmdline = task.module === 'grub_cmdline' ? underPresent(leaf) && /^elevator(=|$)/.test(leaf.text) : /\belevator=/.test(leaf.text);
      return onCmdline
        ? 'elevator= on the kernel command line does nothing since Linux 5.0 (blk-mq): set the scheduler per device ' +
            'with the sysfs module (block: {match: "sd*", attributes: {queue/scheduler: mq-deadline}}), which persists it by a udev rule'
        : null;
    },
  },
  {
    id: 'scheduler-name',
    check: (task, leaf) => {
      const text = leaf.text;
      let name: string | undefined;
      if (isSchedulerAttribute(task, leaf)) name = OLD_SCHEDULER_WORD.exec(text.trim())?.[1];
      else if (task.module === 'grub_cmdline' ? underPresent(leaf) : true) {
        name = /\belevator=(cfq|noop|deadline)\b/.exec(text)?.[1];
        if (!name && /queue\/scheduler/.test(text)) name = OLD_SCHEDULER_WORD.exec(text)?.[1];
      }
      return name
        ? `the I/O scheduler "${name}" is gone since Linux 5.0 (blk-mq schedulers: mq-deadline, bfq, kyber, none): ` +
            `use ${OLD_SCHEDULERS[name]} (cfq → bfq, noop → none, deadline → mq-deadline)`
        : null;
    },
  },
  {
    id: 'hugepagesz-GB',
    check: (_task, leaf) => {
      const m = /\b((?:default_)?hugepagesz)=(\d+)GB\b/i.exec(leaf.text);
      return m
        ? `${m[0]}: write ${m[1]}=${m[2]}G, the form the kernel documents (kernel-parameters.txt); ` +
            'command-line arguments are compared as text, so 1GB and 1G would count as two different values'
        : null;
    },
  },
  {
    id: 'KVM_HUGEPAGES',
    check: (task, leaf) => {
      const path = String((task.args as { path?: unknown } | null)?.path ?? '');
      const hit = /\bKVM_HUGEPAGES\b/.test(leaf.text) || (leaf.path[0] === 'path' && path === '/etc/default/qemu-kvm');
      return hit
        ? '/etc/default/qemu-kvm KVM_HUGEPAGES is obsolete: current distributions ship no qemu-kvm init script that reads it. ' +
            'Give guests huge pages with a hugepage pool, a hugetlbfs mount and libvirt_domain memory_backing: {hugepages: true} ' +
            '(playbooks/hugepages.yml)'
        : null;
    },
  },
  {
    id: 'ifconfig-txqueuelen',
    check: (task, leaf) => {
      const argv = (task.args as { argv?: unknown } | null)?.argv;
      const inArgv =
        task.module === 'command' &&
        leaf.path[0] === 'argv' &&
        leaf.path[1] === 0 &&
        Array.isArray(argv) &&
        /(^|\/)ifconfig$/.test(leaf.text) &&
        argv.some((a) => a === 'txqueuelen');
      const inText = !inArgv && /\bifconfig\b[^\n]*\btxqueuelen\b/.test(leaf.text);
      return inArgv || inText
        ? 'ifconfig … txqueuelen is dated (net-tools is deprecated): today it is `ip link set dev IF txqueuelen N`, ' +
            'and the ethtool module sets txqueuelen and persists it across reboots'
        : null;
    },
  },
];

/** Every key and string value in a task's arguments, depth first, with its path. */
export function argLeaves(args: unknown, at: (string | number)[] = []): ArgLeaf[] {
  if (typeof args === 'string') return [{ path: at, text: args, isKey: false }];
  if (Array.isArray(args)) return args.flatMap((item, i) => argLeaves(item, [...at, i]));
  if (args !== null && typeof args === 'object') {
    return Object.entries(args).flatMap(([key, value]) => [{ path: [...at, key], text: key, isKey: true }, ...argLeaves(value, [...at, key])]);
  }
  return [];
}

/** `plays[0].tasks[2]` → [0, 'tasks', 2], the task's place in the playbook source. */
function taskSourcePath(task: Task): SourcePath | null {
  const m = /^plays\[(\d+)\]\.(tasks|handlers)\[(\d+)\]$/.exec(task.path);
  return m ? [Number(m[1]), m[2], Number(m[3])] : null;
}

/** Warnings for dated advice in a loaded playbook, in file order; severity 'warning'. */
export function datedAdvice(playbook: Playbook, rules: readonly DatedRule[] = DATED_RULES): InputProblem[] {
  const problems: InputProblem[] = [];
  const seen = new Set<string>();
  for (const play of playbook.plays) {
    for (const task of [...play.tasks, ...play.handlers]) {
      const at = taskSourcePath(task);
      const argsAt: SourcePath = at ? [...at, task.module] : [];
      // Removing dated advice is the fix, not the problem.
      if ((task.args as { state?: unknown } | null)?.state === 'absent') continue;
      for (const leaf of argLeaves(task.args)) {
        if (task.module === 'lineinfile' && leaf.path[0] === 'regexp') continue;
        for (const rule of rules) {
          const message = rule.check(task, leaf);
          if (message === null) continue;
          const key = `${rule.id}\u0000${task.path}\u0000${leaf.path.join('\u0000')}`;
          if (seen.has(key)) continue;
          seen.add(key);
          problems.push({
            pos: at ? task.source.pos([...argsAt, ...leaf.path]) : task.pos,
            path: formatPath([...argsAt.slice(1), ...leaf.path], task.path.replace(/\.(tasks|handlers)\[\d+\]$/, '')),
            message,
            severity: 'warning',
          });
        }
      }
    }
  }
  return problems;
}
