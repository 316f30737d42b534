// xenserver_vif: spread the busy VIFs of a XenServer host over every netback worker (seed 000).
// On a dom0 with a fixed pool of netback workers, VIFs are given to workers round-robin as VMs
// start after a host restart; this module plans a start order, a VIF reorder or dummy VIFs that
// balance the busy ones, and applies it with `xe`. Where each VIF has its own netback thread
// (Linux ≥ 3.12) ordering decides nothing, and the module says so and changes nothing.

import type { Change, HostHandle, Module, Pending, PlanResult, ReadRequest, ReadResult } from '../src/module.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import {
  compareEvaluations,
  detectNetbackModel,
  liveLoads,
  planNetback,
  renderNetbackTable,
  spreadOf,
  type ModelVm,
  type Strategy,
} from './lib/netback.js';
import { normaliseMac, parseXeBool, parseXeInt, parseXeMap, parseXeMinimal, parseXeRecords } from './lib/xe.js';

type Busy = { network: string; weight?: number } | { vm: string; device: number; weight?: number };

export interface XenserverVifArgs {
  workers?: 'auto' | number;
  busy: Busy[];
  strategy?: Strategy[];
  dummy_network?: string;
  allow_shutdown?: boolean;
  start_delay?: number;
}

export interface XeVm {
  uuid: string;
  name: string;
  power: string;
  domid: number | null;
  order: number;
  startDelay: number;
}
export interface XeVif {
  uuid: string;
  vm: string;
  device: number;
  network: string;
  mac: string;
  mtu: number | null;
  otherConfig: Record<string, string>;
  attached: boolean;
}

export interface XenserverVifObserved {
  /** Why xe could not be read (not a XenServer dom0…), else null. */
  xeError: string | null;
  vms: XeVm[];
  vifs: XeVif[];
  networks: { uuid: string; name: string }[];
  dom0: { kernel: string; unameKernel: string; vcpus: number | null; threads: string[] };
}

type VifSpec = { mac: string; network: string; device: number; otherConfig: Record<string, string>; mtu: number | null };
type ChangeData =
  | { kind: 'network'; name: string }
  | { kind: 'reorder'; vm: string; name: string; running: boolean; before: VifSpec[]; after: VifSpec[] }
  | { kind: 'dummy'; vm: string; device: number; network: string }
  | { kind: 'order'; vm: string; order: number; startDelay: number };

const NAME = '^[A-Za-z0-9_.:@()+-][A-Za-z0-9 _.:@()+,-]{0,63}$';
const STRATEGIES: Strategy[] = ['start_order', 'reorder', 'dummy'];
const DEFAULT_DUMMY = 'hvtune-dummy';
const weight = { type: 'number', exclusiveMinimum: 0, description: 'Relative traffic of the matching VIFs (default 1).' };

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['busy'],
  properties: {
    workers: {
      description: 'Size of the netback worker pool: "auto" (the netback/N threads of dom0, else its vCPU count) or a number.',
      anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 1, maximum: 64 }],
      default: 'auto',
      'x-message': 'must be "auto" or an integer from 1 to 64',
    },
    busy: {
      type: 'array',
      minItems: 1,
      description: 'Which VIFs carry the traffic, with weights: by network name, or by VM name and VIF device.',
      items: {
        anyOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['network'],
            properties: { network: { type: 'string', pattern: NAME, description: 'Network name-label.' }, weight },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['vm', 'device'],
            properties: {
              vm: { type: 'string', pattern: NAME, description: 'VM name-label. A VM named here keeps its VIF devices (no reorder).' },
              device: { type: 'integer', minimum: 0, maximum: 63, description: 'VIF device number.' },
              weight,
            },
          },
        ],
        'x-message': 'must be {network: NAME, weight?} or {vm: NAME, device: N, weight?}',
      },
    },
    strategy: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { enum: STRATEGIES },
      description: 'Allowed fixes, most preferred first: start_order (VM order/start-delay), reorder (VIF devices), dummy (extra VIFs).',
    },
    dummy_network: { type: 'string', pattern: NAME, description: `Network for dummy VIFs, created if missing (default ${DEFAULT_DUMMY}).` },
    allow_shutdown: {
      type: 'boolean',
      description: 'Shut down (and start again) running VMs whose VIFs must be reordered. Default false: they are reported instead.',
    },
    start_delay: {
      type: 'integer',
      minimum: 0,
      maximum: 3600,
      description: 'start-delay written with a new start order, seconds (default 10).',
    },
  },
} as const;

const VIF_PARAMS = 'params=uuid,vm-uuid,device,network-uuid,MAC,MTU,other-config,currently-attached';
const XE_READS: string[][] = [
  [
    'xe',
    'vm-list',
    'is-control-domain=false',
    'is-a-template=false',
    'is-a-snapshot=false',
    'params=uuid,name-label,power-state,dom-id,order,start-delay',
  ],
  ['xe', 'vif-list', VIF_PARAMS],
  ['xe', 'network-list', 'params=uuid,name-label'],
  ['xe', 'host-list', 'params=uuid,name-label,software-version'],
  ['xe', 'vm-list', 'is-control-domain=true', 'params=uuid,VCPUs-number'],
];
// Kernel thread names tell the netback model (netback/N, vifD.N, vifD.N-qK).
const THREADS_SCRIPT = 'uname -r; echo --; cat /proc/[0-9]*/comm 2>/dev/null | sort -u';

export function parseVifs(text: string): XeVif[] {
  return parseXeRecords(text).map((r) => ({
    uuid: r.uuid,
    vm: r['vm-uuid'],
    device: parseXeInt(r.device) ?? -1,
    network: r['network-uuid'],
    mac: normaliseMac(r.MAC ?? ''),
    mtu: parseXeInt(r.MTU),
    otherConfig: parseXeMap(r['other-config']),
    attached: parseXeBool(r['currently-attached']) === true,
  }));
}

function parse(_args: XenserverVifArgs, results: ReadResult[]): XenserverVifObserved {
  const out = (r: ReadResult) => ('stdout' in r ? r.stdout : '');
  const failed = results.slice(0, XE_READS.length).find((r) => 'code' in r && r.code !== 0);
  const [vmOut, vifOut, netOut, hostOut, dom0Out, threadsOut] = results.map(out);
  const [uname, threads = ''] = threadsOut.split('\n--\n');
  const host = parseXeRecords(hostOut)[0] ?? {};
  return {
    xeError: failed && 'code' in failed ? `xe exited ${failed.code}: ${failed.stderr.trim()}` : null,
    vms: parseXeRecords(vmOut).map((r) => ({
      uuid: r.uuid,
      name: r['name-label'] ?? '',
      power: r['power-state'] ?? '',
      domid: parseXeInt(r['dom-id']),
      order: parseXeInt(r.order) ?? 0,
      startDelay: parseXeInt(r['start-delay']) ?? 0,
    })),
    vifs: parseVifs(vifOut),
    networks: parseXeRecords(netOut).map((r) => ({ uuid: r.uuid, name: r['name-label'] ?? '' })),
    dom0: {
      kernel: parseXeMap(host['software-version']).linux ?? '',
      unameKernel: uname.trim(),
      vcpus: parseXeInt(parseXeRecords(dom0Out)[0]?.['VCPUs-number']),
      threads: threads
        .split('\n')
        .map((t) => t.trim())
        .filter((t) => t !== ''),
    },
  };
}

function weightOf(args: XenserverVifArgs, vmName: string, device: number, network: string): number {
  const specific = args.busy.find((b) => 'vm' in b && b.vm === vmName && b.device === device);
  const byNetwork = args.busy.find((b) => 'network' in b && b.network === network);
  const hit = specific ?? byNetwork;
  return hit ? (hit.weight ?? 1) : 0;
}

function plan(args: XenserverVifArgs, o: XenserverVifObserved): PlanResult {
  if (o.xeError !== null) throw new TaskError(`cannot read VMs with xe (${o.xeError}); xenserver_vif runs on a XenServer dom0`);
  const warnings: string[] = [];
  const kernel = o.dom0.kernel || o.dom0.unameKernel;
  if (o.dom0.kernel && o.dom0.unameKernel && o.dom0.kernel !== o.dom0.unameKernel)
    warnings.push(`uname -r says ${o.dom0.unameKernel} but XAPI reports dom0 kernel ${o.dom0.kernel}; planning for XAPI's`);
  const model = detectNetbackModel(kernel, o.dom0.threads);
  if (model.kind !== 'pool') {
    warnings.push(
      `dom0 runs a netback thread ${model.kind === 'per-vif' ? 'per VIF' : 'per queue'} (${model.evidence}): VIF order and VM start order do not decide which CPU serves a VIF; nothing to change`,
    );
    return { changes: [], warnings };
  }
  const workers = typeof args.workers === 'number' ? args.workers : (model.workers ?? o.dom0.vcpus);
  if (workers === null)
    throw new TaskError('cannot tell the netback pool size: no netback/N threads and no dom0 vCPU count; set workers: N');
  if (args.workers === undefined || args.workers === 'auto') {
    if (model.workers === null)
      warnings.push(`no netback/N threads seen; assuming one worker per dom0 vCPU (${workers}), as XenServer 5.6 does`);
  } else if (model.workers !== null && model.workers !== workers) {
    warnings.push(`workers: ${workers} given, but dom0 has ${model.workers} netback threads`);
  }
  const netName = new Map(o.networks.map((n) => [n.uuid, n.name]));
  for (const b of args.busy) {
    if ('network' in b && !o.networks.some((n) => n.name === b.network))
      throw new TaskError(`busy network ${b.network} not found; networks: ${o.networks.map((n) => n.name).join(', ')}`);
    if ('vm' in b && !o.vifs.some((f) => f.device === b.device && o.vms.find((v) => v.uuid === f.vm)?.name === b.vm))
      throw new TaskError(`busy VIF ${b.vm} device ${b.device} not found`);
  }
  const allowShutdown = args.allow_shutdown === true;
  const toModel = (shutdownOk: boolean): ModelVm[] =>
    o.vms.map((vm) => ({
      key: vm.uuid,
      name: vm.name,
      order: vm.order,
      // a VM whose busy VIF is named by device keeps its devices, or the entry would move with them
      reorderable: (vm.power === 'halted' || shutdownOk) && !args.busy.some((b) => 'vm' in b && b.vm === vm.name),
      vifs: o.vifs
        .filter((f) => f.vm === vm.uuid)
        .map((f) => {
          const network = netName.get(f.network) ?? f.network;
          return { key: f.uuid, device: f.device, network, weight: weightOf(args, vm.name, f.device, network) };
        }),
    }));
  const strategies = args.strategy ?? STRATEGIES;
  const vms = toModel(allowShutdown);
  const result = planNetback(vms, { workers, strategies });
  if (!result.exhaustive) warnings.push('the search stopped at its work limit; this is the best plan found, not proven best');
  if (!allowShutdown && strategies.includes('reorder') && o.vms.some((v) => v.power !== 'halted')) {
    const unrestricted = planNetback(toModel(true), { workers, strategies }).best;
    const shutdowns = o.vms.filter(
      (v) => v.power !== 'halted' && unrestricted.layout.vifOrder[v.uuid].some((k, i) => k !== result.current.layout.vifOrder[v.uuid][i]),
    );
    if (compareEvaluations(unrestricted, result.best, strategies) < 0 && unrestricted.maxLoad < result.best.maxLoad)
      warnings.push(
        `reordering the VIFs of running VMs (${shutdowns.map((v) => v.name).join(', ')}) would lower the max worker load to ${unrestricted.maxLoad}: shut them down or set allow_shutdown: true`,
      );
  }
  const changes = buildChanges(args, o, result.best);
  const pending: Pending[] = [];
  const running = o.vms.filter((v) => v.power === 'running' && v.domid !== null);
  const live = liveLoads(
    running.map((vm) => ({
      domid: vm.domid!,
      vifs: o.vifs
        .filter((f) => f.vm === vm.uuid && f.attached)
        .map((f) => ({ device: f.device, weight: weightOf(args, vm.name, f.device, netName.get(f.network) ?? '') })),
    })),
    workers,
  );
  const liveWorse = running.length > 0 && (Math.max(...live) > result.best.maxLoad || spreadOf(live) > result.best.spread);
  const order = result.best.layout.startOrder.map((k) => o.vms.find((v) => v.uuid === k)!.name).join(', ');
  // Running VMs keep their workers until the host restarts; halted ones get theirs when started.
  const restartNeeded = running.length > 0 ? liveWorse : changes.length > 0;
  if (restartNeeded)
    pending.push({
      effect: 'reboot',
      target: 'netback',
      summary: `restart the host and start VMs in order ${order} to spread busy VIFs over ${workers} netback workers`,
    });
  if (changes.length || restartNeeded) warnings.push(renderNetbackTable(vms, result, args.dummy_network ?? DEFAULT_DUMMY));
  return { changes, pending, warnings };
}

function buildChanges(args: XenserverVifArgs, o: XenserverVifObserved, best: ReturnType<typeof planNetback>['best']): Change[] {
  const changes: Change[] = [];
  const dummyNetwork = args.dummy_network ?? DEFAULT_DUMMY;
  const needsDummies = Object.values(best.layout.dummies).some((d) => d > 0);
  if (needsDummies && !o.networks.some((n) => n.name === dummyNetwork))
    changes.push(
      change(`create network ${dummyNetwork} for dummy VIFs`, `network:${dummyNetwork}`, 'persistent', null, dummyNetwork, {
        kind: 'network',
        name: dummyNetwork,
      }),
    );
  const netName = new Map(o.networks.map((n) => [n.uuid, n.name]));
  for (const vmKey of best.layout.startOrder) {
    if (!best.touched.includes(vmKey)) continue;
    const vm = o.vms.find((v) => v.uuid === vmKey)!;
    const vifs = o.vifs.filter((f) => f.vm === vm.uuid).sort((a, b) => a.device - b.device);
    const spec = (f: XeVif, device: number): VifSpec => ({
      mac: f.mac,
      network: f.network,
      device,
      otherConfig: f.otherConfig,
      mtu: f.mtu,
    });
    const newOrder = best.layout.vifOrder[vmKey];
    if (newOrder.some((uuid, i) => vifs[i].uuid !== uuid)) {
      const before = vifs.map((f) => spec(f, f.device));
      const after = newOrder.map((uuid, i) => spec(vifs.find((f) => f.uuid === uuid)!, vifs[i].device));
      const show = (s: VifSpec[]) => s.map((x) => `${x.device}:${netName.get(x.network) ?? x.network}`).join(' ');
      const running = vm.power !== 'halted';
      changes.push(
        change(
          `reorder VIFs of ${vm.name}${running ? ' (shut down and start again)' : ''}`,
          `vm:${vm.name}/vifs`,
          running ? 'vm-restart' : 'persistent',
          show(before),
          show(after),
          { kind: 'reorder', vm: vm.uuid, name: vm.name, running, before, after },
        ),
      );
    }
    const last = vifs.length ? vifs[vifs.length - 1].device : -1;
    for (let i = 0; i < (best.layout.dummies[vmKey] ?? 0); i++)
      changes.push(
        change(
          `add dummy VIF ${last + 1 + i} on ${dummyNetwork} to ${vm.name}`,
          `vm:${vm.name}/vif/${last + 1 + i}`,
          'persistent',
          null,
          dummyNetwork,
          { kind: 'dummy', vm: vm.uuid, device: last + 1 + i, network: dummyNetwork },
        ),
      );
    const newOrderValue = best.orderWrites[vmKey];
    if (newOrderValue !== undefined) {
      const startDelay = args.start_delay ?? 10;
      changes.push(
        change(
          `start ${vm.name} at position ${best.layout.startOrder.indexOf(vmKey) + 1} (order ${newOrderValue})`,
          `vm:${vm.name}/order`,
          'persistent',
          `order=${vm.order} start-delay=${vm.startDelay}`,
          `order=${newOrderValue} start-delay=${startDelay}`,
          { kind: 'order', vm: vm.uuid, order: newOrderValue, startDelay },
        ),
      );
    }
  }
  return changes;
}

function change(
  summary: string,
  target: string,
  effect: Change['effect'],
  before: string | null,
  after: string | null,
  data: ChangeData,
): Change {
  return { summary, target, effect, before, after, data };
}

async function xe(host: HostHandle, ...words: string[]): Promise<string> {
  return (await host.run(['xe', ...words])).stdout;
}

async function networkUuid(host: HostHandle, name: string): Promise<string | null> {
  return parseXeMinimal(await xe(host, 'network-list', `name-label=${name}`, '--minimal'))[0] ?? null;
}

async function createVif(host: HostHandle, vm: string, s: VifSpec): Promise<void> {
  const uuid = (await xe(host, 'vif-create', `vm-uuid=${vm}`, `network-uuid=${s.network}`, `device=${s.device}`, `mac=${s.mac}`)).trim();
  for (const [k, v] of Object.entries(s.otherConfig)) await xe(host, 'vif-param-set', `uuid=${uuid}`, `other-config:${k}=${v}`);
}

async function vifsOf(host: HostHandle, vm: string): Promise<XeVif[]> {
  return parseVifs(await xe(host, 'vif-list', `vm-uuid=${vm}`, VIF_PARAMS));
}

const specText = (s: VifSpec[]) =>
  s
    .map((x) => `${x.device}:${x.mac}@${x.network} mtu=${x.mtu} ${JSON.stringify(x.otherConfig)}`)
    .sort()
    .join(', ');

/** Destroy and re-create the VIFs that move, then read them all back; restore the originals on failure. */
async function reorder(host: HostHandle, d: Extract<ChangeData, { kind: 'reorder' }>, args: XenserverVifArgs): Promise<void> {
  if (d.running && args.allow_shutdown !== true) throw new TaskError(`${d.name} is running: shut it down or set allow_shutdown: true`);
  if (d.running) await xe(host, 'vm-shutdown', `uuid=${d.vm}`);
  const moved = d.after.filter((s) => d.before.find((b) => b.mac === s.mac)!.device !== s.device);
  const current = await vifsOf(host, d.vm);
  try {
    for (const s of moved) await xe(host, 'vif-destroy', `uuid=${current.find((f) => f.mac === s.mac)!.uuid}`);
    for (const s of moved) await createVif(host, d.vm, s);
  } catch (error) {
    const now = await vifsOf(host, d.vm);
    for (const s of moved) {
      const made = now.find((f) => f.mac === s.mac);
      if (made) await xe(host, 'vif-destroy', `uuid=${made.uuid}`);
      await createVif(host, d.vm, d.before.find((b) => b.mac === s.mac)!);
    }
    throw error;
  }
  const readBack = (await vifsOf(host, d.vm)).map((f) => ({
    mac: f.mac,
    network: f.network,
    device: f.device,
    otherConfig: f.otherConfig,
    mtu: f.mtu,
  }));
  if (specText(readBack) !== specText(d.after))
    throw new ApplyVerifyError(host.name, `vm:${d.name}/vifs`, specText(d.after), specText(readBack));
  if (d.running) await xe(host, 'vm-start', `uuid=${d.vm}`);
}

async function apply(changes: Change[], host: HostHandle, args: XenserverVifArgs): Promise<void> {
  for (const c of changes) {
    const d = c.data as ChangeData;
    if (d.kind === 'network') {
      await xe(host, 'network-create', `name-label=${d.name}`);
      if ((await networkUuid(host, d.name)) === null) throw new ApplyVerifyError(host.name, c.target, d.name, null);
    } else if (d.kind === 'reorder') {
      await reorder(host, d, args);
    } else if (d.kind === 'dummy') {
      const network = await networkUuid(host, d.network);
      if (network === null) throw new TaskError(`dummy network ${d.network} does not exist`);
      await xe(host, 'vif-create', `vm-uuid=${d.vm}`, `network-uuid=${network}`, `device=${d.device}`);
      const made = (await vifsOf(host, d.vm)).find((f) => f.device === d.device);
      if (made?.network !== network) throw new ApplyVerifyError(host.name, c.target, network, made?.network ?? null);
    } else {
      await xe(host, 'vm-param-set', `uuid=${d.vm}`, `order=${d.order}`, `start-delay=${d.startDelay}`);
      const got = `order=${(await xe(host, 'vm-param-get', `uuid=${d.vm}`, 'param-name=order')).trim()} start-delay=${(await xe(host, 'vm-param-get', `uuid=${d.vm}`, 'param-name=start-delay')).trim()}`;
      if (got !== c.after) throw new ApplyVerifyError(host.name, c.target, c.after ?? null, got);
    }
  }
}

export const xenserver_vif = {
  name: 'xenserver_vif',
  description: 'Spread busy VIFs over every netback worker of a XenServer dom0 (start order, VIF reorder, dummy VIFs)',
  schema,
  read: (): ReadRequest[] => [...XE_READS.map((argv) => ({ kind: 'cmd' as const, argv })), { kind: 'script', script: THREADS_SCRIPT }],
  parse,
  plan,
  apply,
} satisfies Module<XenserverVifArgs, XenserverVifObserved>;

export default xenserver_vif;
