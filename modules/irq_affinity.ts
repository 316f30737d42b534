// irq_affinity: a NIC's queue interrupts spread over chosen CPUs, one queue per CPU round-robin
// (seed 003: the NIC's interrupts on its own NUMA node, off the vCPUs' cores). Interrupts are found
// by device and queue name, never by number, which changes from boot to boot; a script and a
// systemd unit that hvtune owns resolve the names again at every boot. irqbalance is kept from
// moving them back (its banned CPU list and a policy script), stopped, or left alone.

import { ApplyVerifyError, TaskError } from '../src/errors.js';
import type { Facts } from '../src/facts.js';
import { formatCpuList, parseCpuList } from '../src/facts/cpulist.js';
import type { Change, HostHandle, Module, PlanContext, PlanResult, ReadRequest, ReadResult } from '../src/module.js';
import { sh } from '../src/quote.js';
import { normaliseCpusetLenient } from './lib/cpuset.js';
import {
  CONF_DIR,
  IRQBALANCE_DEBIAN,
  IRQBALANCE_RHEL,
  type IrqReadout,
  SCRIPT_PATH,
  UNIT_NAME,
  UNIT_PATH,
  UNIT_WANTS_LINK,
  confBan,
  confPath,
  cpuForQueue,
  irqbalanceBanned,
  parseReadout,
  readScript,
  renderBootScript,
  renderConf,
  renderUnit,
  withIrqbalanceBan,
} from './lib/irq-affinity.js';

type CpuListArg = string | number[];

export interface IrqAffinityArgs {
  device: string;
  cpus?: CpuListArg;
  policy?: 'nic-node';
  exclude?: CpuListArg;
  irqbalance?: 'ban' | 'stop' | 'leave';
  persist?: boolean;
}

export interface IrqAffinityObserved {
  live: IrqReadout;
  /** the files this task manages or edits, path → content (null = absent) */
  files: Record<string, string | null>;
  /** other devices' conf files (their irqbalance bans add up) */
  otherConfs: Record<string, string>;
}

type ChangeData =
  | { kind: 'file'; path: string; content: string; mode: number }
  | { kind: 'enable-unit' }
  | { kind: 'irqbalance'; action: 'restart' | 'stop' | 'disable' }
  | { kind: 'irq'; device: string; irq: number; name: string; cpus: string };

const IFNAME = '^[A-Za-z0-9_.:@-]{1,15}$';
const CPU_LIST = '^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$';
const cpuListSchema = (what: string, allowEmpty: boolean) => ({
  description: what,
  anyOf: [
    { type: 'string', pattern: allowEmpty ? `^$|${CPU_LIST}` : CPU_LIST },
    { type: 'array', items: { type: 'integer', minimum: 0, maximum: 8191 }, minItems: allowEmpty ? 0 : 1 },
  ],
  'x-message': 'must be a CPU list such as "1-9,21" or an array of CPU numbers',
});

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['device'],
  properties: {
    device: {
      type: 'string',
      pattern: IFNAME,
      'x-message': 'must be an interface name such as ens1f0',
      description:
        'The NIC whose queue interrupts are placed: found in /proc/interrupts and /sys/class/net/DEV/device/msi_irqs by name ' +
        '(virtio0-input.N, DEV-TxRx-N, i40e-DEV-TxRx-N, mlx5_compN@pci:…), on every run and at every boot.',
    },
    cpus: cpuListSchema(
      'CPUs for the queue interrupts, in order: queue N goes to the (N mod count)-th CPU (round-robin). Give this or policy.',
      false,
    ),
    policy: {
      type: 'string',
      enum: ['nic-node'],
      description: "nic-node: the CPUs of the NIC's own NUMA node (seed 003: interrupts local to the device). Give this or cpus.",
    },
    exclude: cpuListSchema(
      'CPUs never to use for the interrupts, taken out of cpus or the policy: the vCPUs\' CPUs ("{{vcpu_cpus}}").',
      true,
    ),
    irqbalance: {
      type: 'string',
      enum: ['ban', 'stop', 'leave'],
      description:
        'ban (default): irqbalance keeps its other interrupts off these CPUs and the excluded ones (IRQBALANCE_BANNED_CPULIST in ' +
        '/etc/default/irqbalance, /etc/sysconfig/irqbalance on RHEL) and leaves these queue interrupts where they are (a policy ' +
        'script), then is restarted if it runs. stop: stop and disable irqbalance. leave: do not touch it (it may move them back).',
    },
    persist: {
      type: 'boolean',
      description: `Put the affinity back at every boot (default true): ${SCRIPT_PATH}, ${UNIT_PATH} and ${CONF_DIR}/DEV.conf.`,
    },
  },
} as const;

function cpusOf(list: CpuListArg | undefined, what: string): number[] {
  if (list === undefined) return [];
  try {
    return parseCpuList(Array.isArray(list) ? list.join(',') : list);
  } catch (err) {
    throw new TaskError(`${what}: ${(err as Error).message}`);
  }
}

function irqbalanceFile(observed: IrqAffinityObserved, facts: Facts): string {
  if (observed.files[IRQBALANCE_RHEL] != null) return IRQBALANCE_RHEL;
  if (observed.files[IRQBALANCE_DEBIAN] != null) return IRQBALANCE_DEBIAN;
  const d = facts.distribution;
  const family = [d?.id ?? '', ...(d?.like ?? [])];
  return family.some((f) => ['rhel', 'fedora', 'centos', 'rocky', 'almalinux'].includes(f)) ? IRQBALANCE_RHEL : IRQBALANCE_DEBIAN;
}

/** Exactly one of cpus and policy: the CPUs come from one place. */
function validate(args: IrqAffinityArgs): { path: string; message: string }[] {
  if (args.cpus !== undefined && args.policy !== undefined) return [{ path: '/cpus', message: 'give cpus or policy, not both' }];
  if (args.cpus === undefined && args.policy === undefined) return [{ path: '', message: 'needs cpus (a CPU list) or policy: nic-node' }];
  return [];
}

function read(args: IrqAffinityArgs): ReadRequest[] {
  return [
    { kind: 'script', script: readScript(args.device) },
    { kind: 'file', path: confPath(args.device) },
    { kind: 'file', path: SCRIPT_PATH },
    { kind: 'file', path: UNIT_PATH },
    { kind: 'file', path: IRQBALANCE_DEBIAN },
    { kind: 'file', path: IRQBALANCE_RHEL },
    { kind: 'glob', pattern: `${CONF_DIR}/*.conf` },
  ];
}

function parse(args: IrqAffinityArgs, results: ReadResult[]): IrqAffinityObserved {
  const [live, ...rest] = results;
  const files: Record<string, string | null> = {};
  let otherConfs: Record<string, string> = {};
  for (const r of rest) {
    if (r.kind === 'file') files[r.path] = r.content;
    else if (r.kind === 'glob') otherConfs = Object.fromEntries(Object.entries(r.files).filter(([p]) => p !== confPath(args.device)));
  }
  return { live: parseReadout(live.kind === 'script' ? live.stdout : '', normaliseCpusetLenient), files, otherConfs };
}

/** The CPUs the queues may use, in order, checked against what the host has online. */
export function allowedCpus(args: IrqAffinityArgs, live: IrqReadout, facts: Facts, host: string): number[] {
  const online = new Set(parseCpuList(live.online || formatCpuList(facts.cpu?.online ?? [])));
  let base: number[];
  if (args.policy === 'nic-node') {
    const nodes = facts.numa?.nodes ?? [];
    const node = live.deviceNode ?? (nodes.length <= 1 ? (nodes[0]?.id ?? null) : null);
    if (node === null)
      throw new TaskError(
        `${host}: ${args.device} has no NUMA node (the kernel reports -1) on a machine with ${nodes.length} nodes; give cpus instead of policy: nic-node`,
      );
    base = nodes.find((n) => n.id === node)?.cpus ?? (nodes.length === 0 ? [...online] : []);
    if (!base.length) throw new TaskError(`${host}: ${args.device} is on NUMA node ${node}, which the facts give no CPUs`);
  } else base = cpusOf(args.cpus, 'cpus');
  const excluded = new Set(cpusOf(args.exclude, 'exclude'));
  const offline = base.filter((c) => !online.has(c));
  if (offline.length && !args.policy)
    throw new TaskError(`${host}: cpus ${formatCpuList(offline)} are not online (online: ${formatCpuList(online)})`);
  const allowed = base.filter((c) => online.has(c) && !excluded.has(c));
  if (!allowed.length)
    throw new TaskError(
      `${host}: no CPU left for the queue interrupts of ${args.device}: ${formatCpuList(base)} minus exclude ${formatCpuList(excluded)} is empty`,
    );
  return allowed;
}

function plan(args: IrqAffinityArgs, o: IrqAffinityObserved, ctx: PlanContext): PlanResult {
  const { device } = args;
  const live = o.live;
  if (!live.devicePresent) throw new TaskError(`${ctx.host}: no network device ${device} (/sys/class/net/${device} is absent)`);
  if (!live.irqs.length)
    throw new TaskError(
      `${ctx.host}: found no queue interrupts of ${device} in /proc/interrupts (by its msi_irqs or by names such as ` +
        `${device}-TxRx-0, virtioN-input.0, mlx5_comp0@pci:…)`,
    );
  const cpus = allowedCpus(args, live, ctx.facts, ctx.host);
  const changes: Change[] = [];
  const warnings: string[] = [];
  const mode = args.irqbalance ?? 'ban';
  const persist = args.persist ?? true;
  const online = parseCpuList(live.online || formatCpuList(ctx.facts.cpu?.online ?? []));
  const ban = mode === 'ban' ? [...new Set([...cpus, ...cpusOf(args.exclude, 'exclude').filter((c) => online.includes(c))])] : null;

  const file = (path: string, content: string, fileMode: number, summary: string) => {
    const before = o.files[path] ?? null;
    if (before === content) return;
    changes.push({
      summary,
      target: path,
      effect: 'persistent',
      diff: { path, before, after: content },
      data: { kind: 'file', path, content, mode: fileMode } satisfies ChangeData,
    });
  };
  if (persist) {
    file(SCRIPT_PATH, renderBootScript(), 0o755, 'install the boot script that puts queue interrupts back by name');
    file(UNIT_PATH, renderUnit(), 0o644, `install ${UNIT_NAME}`);
    file(confPath(device), renderConf(device, cpus, ban), 0o644, `persist the queue interrupt CPUs of ${device}`);
    if (!live.unitEnabled)
      changes.push({
        summary: `enable ${UNIT_NAME} (runs at boot)`,
        target: `service:${UNIT_NAME}/enabled`,
        effect: 'persistent',
        before: 'disabled',
        after: 'enabled',
        data: { kind: 'enable-unit' } satisfies ChangeData,
      });
  }

  const ib = live.irqbalance;
  if (mode !== 'leave' && !ib.installed) warnings.push(`irqbalance is not installed on ${ctx.host}: irqbalance: ${mode} has nothing to do`);
  if (mode === 'ban' && ib.installed && ban) {
    const path = irqbalanceFile(o, ctx.facts);
    const others = Object.values(o.otherConfs).flatMap((c) => confBan(c, parseCpuList));
    const banned = [...new Set([...ban, ...others])].sort((a, b) => a - b);
    if (online.length && online.every((c) => banned.includes(c)))
      warnings.push(`irqbalance would have every online CPU banned (${formatCpuList(banned)}): it balances nothing then`);
    const before = o.files[path] ?? null;
    const after = withIrqbalanceBan(before, banned);
    if (after !== before) {
      changes.push({
        summary: `ban CPUs ${formatCpuList(banned)} in irqbalance and leave ${device}'s queue interrupts to hvtune`,
        target: path,
        effect: 'persistent',
        diff: { path, before, after },
        data: { kind: 'file', path, content: after, mode: 0o644 } satisfies ChangeData,
      });
      if (ib.active === 'active')
        changes.push({
          summary: 'restart irqbalance (it reads its banned CPUs at start)',
          target: 'service:irqbalance/restart',
          effect: 'service-restart',
          before: irqbalanceBanned(before) || null,
          after: formatCpuList(banned),
          data: { kind: 'irqbalance', action: 'restart' } satisfies ChangeData,
        });
    }
  }
  if (mode === 'stop' && ib.installed) {
    if (ib.active === 'active' || ib.active === 'activating')
      changes.push({
        summary: 'stop irqbalance (it would move the queue interrupts)',
        target: 'service:irqbalance/active',
        effect: 'live',
        before: ib.active,
        after: 'inactive',
        data: { kind: 'irqbalance', action: 'stop' } satisfies ChangeData,
      });
    if (ib.enabled === 'enabled')
      changes.push({
        summary: 'disable irqbalance at boot',
        target: 'service:irqbalance/enabled',
        effect: 'persistent',
        before: 'enabled',
        after: 'disabled',
        data: { kind: 'irqbalance', action: 'disable' } satisfies ChangeData,
      });
  }

  for (const q of live.irqs) {
    const want = String(cpuForQueue(q.queue, cpus));
    if (q.affinity === want) continue;
    changes.push({
      summary: `put ${device} queue ${q.queue} interrupt ${q.name} on CPU ${want}`,
      target: `irq:${device}/${q.name}`,
      effect: 'live',
      before: q.affinity,
      after: want,
      data: { kind: 'irq', device, irq: q.irq, name: q.name, cpus: want } satisfies ChangeData,
    });
  }
  return { changes, warnings };
}

const ORDER: Record<string, number> = { file: 0, 'enable-unit': 1, irqbalance: 2, irq: 3 };

async function apply(changes: Change[], host: HostHandle): Promise<void> {
  const data = changes.map((c) => c.data as ChangeData).sort((a, b) => ORDER[a.kind] - ORDER[b.kind]);
  for (const d of data) {
    if (d.kind === 'file') await host.writeFile(d.path, d.content, { mode: d.mode });
    else if (d.kind === 'enable-unit') {
      // daemon-reload only where systemd runs; enable works on the files alone otherwise
      await host.sh(sh`if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; systemctl enable ${UNIT_NAME}`);
      const [r] = await host.read([{ kind: 'script', script: sh`[ -e ${UNIT_WANTS_LINK} ] && echo enabled || echo disabled` }]);
      const now = r.kind === 'script' ? r.stdout.trim() : '';
      if (now !== 'enabled') throw new ApplyVerifyError(host.name, `service:${UNIT_NAME}/enabled`, 'enabled', now);
    } else if (d.kind === 'irqbalance') {
      const verb = d.action;
      const r = await host.exec(['systemctl', verb, 'irqbalance.service']);
      if (r.code !== 0) throw new ApplyVerifyError(host.name, `service:irqbalance/${verb}`, verb, null, r.stderr.trim());
    } else await setAffinity(host, d);
  }
}

/** Write one queue interrupt's CPUs, only if the number still carries the queue's name, and read it back. */
async function setAffinity(host: HostHandle, d: Extract<ChangeData, { kind: 'irq' }>): Promise<void> {
  const target = `irq:${d.device}/${d.name}`;
  const r = await host.sh(
    sh`name=$(awk -v irq=${`${d.irq}:`} '$1 == irq { print $NF }' /proc/interrupts)
if [ "$name" != ${d.name} ]; then echo "the interrupt number now belongs to \${name:-nothing}: plan again" >&2; exit 3; fi
echo ${d.cpus} > /proc/irq/${d.irq}/smp_affinity_list || exit 4
cat /proc/irq/${d.irq}/smp_affinity_list`,
  );
  const actual = r.code === 0 ? normaliseCpusetLenient(r.stdout.trim()) : null;
  if (actual !== d.cpus) throw new ApplyVerifyError(host.name, target, d.cpus, actual, r.stderr.trim() || undefined);
}

export const irqAffinity = {
  name: 'irq_affinity',
  description: "A NIC's queue interrupts spread over chosen CPUs by queue name, kept from irqbalance, and put back at every boot.",
  // plan() uses the NUMA topology and online CPUs (policy: nic-node)
  needsFacts: true,
  schema,
  validate,
  read,
  parse,
  plan,
  apply,
} satisfies Module<IrqAffinityArgs, IrqAffinityObserved>;

export default irqAffinity;
