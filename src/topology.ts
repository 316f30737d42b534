// Topology helpers: pure functions over gathered facts that playbooks use, through Handlebars,
// to compute pinning, queue counts and CPU sets from the host instead of hard-coding them
// (seed 003: vCPUs on the NIC's NUMA node, a core per node left to the host, emulator/vhost
// threads on their own cores, never two vCPUs of an I/O-bound VM on sibling hyper-threads).
//
// Helpers (Handlebars name → function), every CPU list argument accepts an array or "1-3,8":
//   node_cpus facts node              CPUs of a NUMA node, as an array        → nodeCpus
//   nic_node facts nic                NUMA node of a NIC (number)             → nicNode
//   cpu_range list                    CPUs in range form "11-19"              → cpuRange
//   node_cpus_reserved facts node n   node's CPUs minus its n lowest cores (with their
//                                     hyper-threads), left for the host        → nodeCpusReserved
//   one_thread_per_core facts cpus    the lowest thread of each core in cpus  → oneThreadPerCore
//   clamp x lo hi                     x within [lo, hi] (min and max are the template engine's)
//   pin_vm facts node vcpus [reserve] [emulator]   (emulator also as a hash: emulator=1)
//                                     { vcpupin: {"0": "1", …}, emulatorpin: "11-19" } → pinVm;
//                                     used alone in a mustache it stays an object

import { TaskError } from './errors.js';
import type { CpuThread, Facts } from './facts.js';
import { formatCpuList, parseCpuList } from './facts/cpulist.js';

export { formatCpuList, parseCpuList } from './facts/cpulist.js';

export type CpuListInput = readonly number[] | string | number;

/** Accept [1,2], "1-2,5", 7 or ["1","2"] from a template; reject anything else clearly. */
export function toCpus(list: CpuListInput | readonly string[], what = 'CPU list'): number[] {
  if (typeof list === 'number') return toCpus(String(list), what);
  if (typeof list === 'string') {
    try {
      return parseCpuList(list);
    } catch (err) {
      throw new TaskError(`${what}: ${(err as Error).message}`);
    }
  }
  if (Array.isArray(list)) return parseCpuList(list.map((c) => String(c)).join(','));
  throw new TaskError(`${what}: expected a CPU list such as "0-3,8" or an array of CPU numbers, got ${JSON.stringify(list)}`);
}

function toInteger(value: unknown, what: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new TaskError(`${what}: expected a whole number, got ${JSON.stringify(value)}`);
  return n;
}

function toNumber(value: unknown, what: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || Number.isNaN(n)) throw new TaskError(`${what}: expected a number, got ${JSON.stringify(value)}`);
  return n;
}

function nodeIds(facts: Facts): number[] {
  return (facts.numa?.nodes ?? []).map((n) => n.id);
}

/** CPUs of a NUMA node, sorted. Facts without NUMA data count as one node 0 of all online CPUs. */
export function nodeCpus(facts: Facts, node: number): number[] {
  const nodes = facts.numa?.nodes ?? [];
  const found = nodes.find((n) => n.id === node);
  if (found) return [...found.cpus];
  if (nodes.length === 0 && node === 0 && facts.cpu) return [...facts.cpu.online];
  throw new TaskError(`${facts.hostname || 'host'} has no NUMA node ${node} (nodes: ${nodeIds(facts).join(', ') || 'none gathered'})`);
}

/** NUMA node of a NIC. A one-node machine answers 0 even when the kernel gives no locality (-1). */
export function nicNode(facts: Facts, nic: string): number {
  const found = (facts.nics ?? []).find((n) => n.name === nic);
  if (!found) {
    const names = (facts.nics ?? []).map((n) => n.name);
    throw new TaskError(`${facts.hostname || 'host'} has no NIC ${JSON.stringify(nic)} (NICs: ${names.join(', ') || 'none gathered'})`);
  }
  if (found.numaNode !== null) return found.numaNode;
  const ids = nodeIds(facts);
  if (ids.length <= 1) return ids[0] ?? 0;
  throw new TaskError(
    `${facts.hostname || 'host'}: NIC ${nic} has no NUMA node (the kernel reports -1 for it) on a machine with ` +
      `${ids.length} nodes; name the node in the playbook instead`,
  );
}

export function cpuRange(list: CpuListInput | readonly string[]): string {
  return formatCpuList(toCpus(list));
}

/** Thread records by CPU id; facts without topology make every CPU its own core. */
function threadMap(facts: Facts): Map<number, CpuThread> {
  return new Map((facts.cpu?.threads ?? []).map((t) => [t.id, t]));
}

/**
 * Group CPUs into cores (a core = its thread_siblings_list), keeping only CPUs in `cpus`.
 * Cores come in the order of their lowest CPU; threads within a core ascending.
 */
export function coresOf(facts: Facts, cpus: readonly number[]): number[][] {
  const threads = threadMap(facts);
  const byCore = new Map<string, number[]>();
  for (const cpu of [...new Set(cpus)].sort((a, b) => a - b)) {
    const key = (threads.get(cpu)?.siblings ?? [cpu]).join(',');
    (byCore.get(key) ?? byCore.set(key, []).get(key)!).push(cpu);
  }
  return [...byCore.values()];
}

/** All hyper-threads of the cores that `cpus` touch (the CPUs a core really occupies). */
export function withSiblings(facts: Facts, cpus: readonly number[]): number[] {
  const threads = threadMap(facts);
  return [...new Set(cpus.flatMap((c) => threads.get(c)?.siblings ?? [c]))].sort((a, b) => a - b);
}

/** The CPUs of the `n` lowest cores of a node, with all their hyper-threads. */
export function reservedCpus(facts: Facts, node: number, n: number): number[] {
  const count = toInteger(n, 'reserved cores');
  if (count < 0) throw new TaskError(`reserved cores: expected 0 or more, got ${count}`);
  const cpus = nodeCpus(facts, node);
  return withSiblings(facts, coresOf(facts, cpus).slice(0, count).flat()).filter((c) => cpus.includes(c));
}

/** A node's CPUs minus its `n` lowest cores and their hyper-threads (left to the host). */
export function nodeCpusReserved(facts: Facts, node: number, n: number): number[] {
  const reserved = new Set(reservedCpus(facts, node, n));
  return nodeCpus(facts, node).filter((c) => !reserved.has(c));
}

/** The lowest thread of each core present in `cpus`. */
export function oneThreadPerCore(facts: Facts, cpus: CpuListInput | readonly string[]): number[] {
  return coresOf(facts, toCpus(cpus)).map((core) => core[0]);
}

/**
 * CPUs in the order vCPUs should take them: one thread of every core first, then the second
 * threads, and so on — so siblings are shared only when the cores run out.
 */
export function spreadOrder(facts: Facts, cpus: readonly number[]): number[] {
  const cores = coresOf(facts, cpus);
  const out: number[] = [];
  for (let round = 0; out.length < cpus.length; round++) for (const core of cores) if (core[round] !== undefined) out.push(core[round]);
  return out;
}

export function clamp(x: number, lo: number, hi: number): number {
  const [v, a, b] = [toNumber(x, 'clamp value'), toNumber(lo, 'clamp low bound'), toNumber(hi, 'clamp high bound')];
  if (a > b) throw new TaskError(`clamp: low bound ${a} is above high bound ${b}`);
  return Math.min(b, Math.max(a, v));
}

/** Other nodes by distance from `node` (SLIT), then by id; no distances → by id. */
export function nearestNodes(facts: Facts, node: number): number[] {
  const from = facts.numa?.nodes.find((n) => n.id === node);
  const dist = (id: number) => from?.distances[id] ?? Number.MAX_SAFE_INTEGER;
  return nodeIds(facts)
    .filter((id) => id !== node)
    .sort((a, b) => dist(a) - dist(b) || a - b);
}

/**
 * Where the emulator (and vhost) threads go:
 *  - 'auto' (default): the nearest other node, minus its reserved cores, one thread per core
 *    (seed 003: vhost on its own node trades a little latency for throughput); on a one-node
 *    machine, as 'same'.
 *  - 'same': the VM's node, on cores the vCPUs do not use; if none are left, the host's
 *    reserved cores; if none either, the vCPUs' own CPUs.
 *  - a node number: that node, minus its reserved cores, one thread per core.
 *  - a CPU list ("2-3"): exactly those CPUs.
 */
export type EmulatorPlacement = 'auto' | 'same' | number | string;

export interface PinVmOptions {
  facts: Facts;
  node: number;
  vcpus: number;
  /** Cores of each node (lowest first, with their hyper-threads) left to the host. */
  reserve?: number;
  emulator?: EmulatorPlacement;
}

export interface VmPinning {
  /** vCPU number → one host CPU, as libvirt's <vcpupin vcpu= cpuset=>. */
  vcpupin: Record<string, string>;
  emulatorpin: string;
}

export function pinVm({ facts, node, vcpus, reserve = 1, emulator = 'auto' }: PinVmOptions): VmPinning {
  const count = toInteger(vcpus, 'vcpus');
  if (count < 1) throw new TaskError(`vcpus: expected 1 or more, got ${count}`);
  const available = nodeCpusReserved(facts, node, reserve);
  if (count > available.length) {
    throw new TaskError(
      `${facts.hostname || 'host'}: NUMA node ${node} has ${available.length} CPUs left after reserving ${reserve} ` +
        `core(s) for the host, but the VM has ${count} vCPUs; use fewer vCPUs or a smaller reserve`,
    );
  }
  const chosen = spreadOrder(facts, available).slice(0, count);
  const vcpupin: Record<string, string> = {};
  chosen.forEach((cpu, i) => (vcpupin[String(i)] = String(cpu)));
  return { vcpupin, emulatorpin: formatCpuList(emulatorCpus(facts, node, reserve, chosen, emulator)) };
}

function emulatorCpus(facts: Facts, node: number, reserve: number, vcpuCpus: number[], placement: EmulatorPlacement): number[] {
  if (placement === 'auto') {
    const other = nearestNodes(facts, node)[0];
    return other === undefined
      ? emulatorCpus(facts, node, reserve, vcpuCpus, 'same')
      : oneThreadPerCore(facts, nodeCpusReserved(facts, other, reserve));
  }
  if (placement === 'same') {
    const busy = new Set(withSiblings(facts, vcpuCpus));
    const free = nodeCpusReserved(facts, node, reserve).filter((c) => !busy.has(c));
    if (free.length) return oneThreadPerCore(facts, free);
    const hostCpus = reservedCpus(facts, node, reserve);
    return hostCpus.length ? hostCpus : vcpuCpus;
  }
  if (typeof placement === 'number' || /^\d+$/.test(placement)) {
    const other = Number(placement);
    return oneThreadPerCore(facts, nodeCpusReserved(facts, other, reserve));
  }
  return toCpus(placement, 'emulator CPUs');
}

// ---- Handlebars helpers ----

interface HelperOptions {
  hash?: Record<string, unknown>;
}

/** Handlebars passes an options object last; split it off so helpers see only their arguments. */
function splitOptions(args: unknown[]): { params: unknown[]; hash: Record<string, unknown> } {
  const last = args[args.length - 1] as HelperOptions | undefined;
  if (last && typeof last === 'object' && !Array.isArray(last) && 'hash' in last && 'data' in last) {
    return { params: args.slice(0, -1), hash: last.hash ?? {} };
  }
  return { params: args, hash: {} };
}

function factsArg(value: unknown, helper: string): Facts {
  const f = value as Facts | undefined;
  if (!f || typeof f !== 'object' || typeof f.hostname !== 'string') {
    throw new TaskError(`${helper}: the first argument must be the host's facts (write \`${helper} facts …\`)`);
  }
  return f;
}

function arity(helper: string, params: unknown[], n: number, usage: string): void {
  if (params.length !== n) throw new TaskError(`${helper}: expected ${usage}, got ${params.length} argument(s)`);
}

type Helper = (...args: any[]) => unknown;

export const topologyHelpers: Record<string, Helper> = {
  node_cpus(...args: unknown[]) {
    const { params } = splitOptions(args);
    arity('node_cpus', params, 2, 'node_cpus facts NODE');
    return nodeCpus(factsArg(params[0], 'node_cpus'), toInteger(params[1], 'node_cpus node'));
  },
  nic_node(...args: unknown[]) {
    const { params } = splitOptions(args);
    arity('nic_node', params, 2, 'nic_node facts NIC');
    return nicNode(factsArg(params[0], 'nic_node'), String(params[1]));
  },
  cpu_range(...args: unknown[]) {
    const { params } = splitOptions(args);
    arity('cpu_range', params, 1, 'cpu_range LIST');
    return cpuRange(params[0] as CpuListInput);
  },
  node_cpus_reserved(...args: unknown[]) {
    const { params } = splitOptions(args);
    arity('node_cpus_reserved', params, 3, 'node_cpus_reserved facts NODE N');
    const facts = factsArg(params[0], 'node_cpus_reserved');
    return nodeCpusReserved(facts, toInteger(params[1], 'node_cpus_reserved node'), toInteger(params[2], 'node_cpus_reserved n'));
  },
  one_thread_per_core(...args: unknown[]) {
    const { params } = splitOptions(args);
    arity('one_thread_per_core', params, 2, 'one_thread_per_core facts CPUS');
    return oneThreadPerCore(factsArg(params[0], 'one_thread_per_core'), params[1] as CpuListInput);
  },
  clamp(...args: unknown[]) {
    const { params } = splitOptions(args);
    arity('clamp', params, 3, 'clamp X LO HI');
    return clamp(params[0] as number, params[1] as number, params[2] as number);
  },
  pin_vm(...args: unknown[]) {
    const { params, hash } = splitOptions(args);
    if (params.length < 3 || params.length > 5) {
      throw new TaskError(`pin_vm: expected pin_vm facts NODE VCPUS [RESERVE] [EMULATOR], got ${params.length} argument(s)`);
    }
    return pinVm({
      facts: factsArg(params[0], 'pin_vm'),
      node: toInteger(params[1], 'pin_vm node'),
      vcpus: toInteger(params[2], 'pin_vm vcpus'),
      reserve: params[3] === undefined ? 1 : toInteger(params[3], 'pin_vm reserve'),
      emulator: ((params[4] ?? hash.emulator) as EmulatorPlacement | undefined) ?? 'auto',
    });
  },
};
