// What `hvtune map` draws, as data: the host's sockets → NUMA nodes → cores → hyper-threads, and
// on each CPU what runs there (vCPUs per domain, emulator threads, NIC queue interrupts) or that
// nothing is pinned there (left to the host). Built from facts, the domains' XML and the queue
// interrupts' CPUs — live, or as a saved plan leaves them. Pure.

import type { Facts } from '../facts.js';
import { parseCpuList } from '../facts/cpulist.js';

export type CpuUse =
  | { kind: 'vcpu'; domain: string; vcpu: number }
  | { kind: 'emulator'; domain: string }
  | { kind: 'irq'; nic: string; queue: string };

export interface MapCpu {
  id: number;
  uses: CpuUse[];
  /** nothing pinned here: the host's own work runs here */
  host: boolean;
}
export interface MapCore {
  socket: number;
  core: number;
  cpus: MapCpu[];
}
export interface MapNode {
  id: number | null;
  cores: MapCore[];
  nics: string[];
  /** page size in KiB → pages in the node's pool */
  hugepages: Record<string, number>;
  memTotalKiB: number | null;
}
export interface MapSocket {
  id: number;
  nodes: MapNode[];
}
export interface HostMap {
  host: string;
  /** where the pins come from: live, a plan, or facts only */
  source: string;
  sockets: MapSocket[];
  domains: string[];
  warnings: string[];
}

/** A domain's pins as its XML gives them. */
export interface DomainPins {
  name: string;
  /** vCPU → CPUs */
  vcpupin: Record<number, number[]>;
  emulatorpin: number[];
}

/** One NIC queue interrupt and the CPUs it may run on. */
export interface QueueIrq {
  nic: string;
  queue: string;
  cpus: number[];
}

const attr = (tag: string, name: string) => new RegExp(`\\b${name}=(['"])([^'"]*)\\1`).exec(tag)?.[2];

/** vcpupin/emulatorpin of a domain XML (the libvirt words; a cpuset with ^ exclusions is resolved). */
export function domainPins(xml: string, fallbackName: string): DomainPins {
  const name = /<name>([^<]+)<\/name>/.exec(xml)?.[1] ?? fallbackName;
  const cpus = (set: string | undefined) => {
    if (!set) return [];
    const parts = set.split(',').map((p) => p.trim());
    const drop = new Set(
      parseCpuList(
        parts
          .filter((p) => p.startsWith('^'))
          .map((p) => p.slice(1))
          .join(','),
      ),
    );
    return parseCpuList(parts.filter((p) => !p.startsWith('^')).join(',')).filter((c) => !drop.has(c));
  };
  const cputune = /<cputune>([\s\S]*?)<\/cputune>/.exec(xml)?.[1] ?? '';
  const vcpupin: Record<number, number[]> = {};
  for (const m of cputune.matchAll(/<vcpupin\b[^>]*>/g)) {
    const vcpu = attr(m[0], 'vcpu');
    if (vcpu !== undefined) vcpupin[Number(vcpu)] = cpus(attr(m[0], 'cpuset'));
  }
  const emu = /<emulatorpin\b[^>]*>/.exec(cputune)?.[0];
  return { name, vcpupin, emulatorpin: emu ? cpus(attr(emu, 'cpuset')) : [] };
}

/** Queue interrupts as facts recorded them: the CPUs that served each input queue. */
export function factsQueueIrqs(facts: Facts): QueueIrq[] {
  return (facts.nics ?? []).flatMap((n) =>
    (n.interrupts?.inputCpus ?? []).map((cpus, q) => ({ nic: n.name, queue: String(q), cpus })).filter((i) => i.cpus.length > 0),
  );
}

export function buildMap(host: string, facts: Facts, domains: DomainPins[], irqs: QueueIrq[], source: string): HostMap {
  const warnings: string[] = [];
  const threads = facts.cpu?.threads?.length
    ? facts.cpu.threads
    : (facts.cpu?.online ?? []).map((id) => ({ id, core: id, socket: 0, node: 0, siblings: [id] }));
  if (!threads.length) warnings.push(`${host}: the facts hold no CPU topology: nothing to draw`);
  const uses = new Map<number, CpuUse[]>(threads.map((t) => [t.id, []]));
  const put = (cpu: number, use: CpuUse, what: string) => {
    const at = uses.get(cpu);
    if (at) at.push(use);
    else warnings.push(`${what} is pinned to CPU ${cpu}, which ${host} does not have`);
  };
  for (const d of domains) {
    for (const [vcpu, cpus] of Object.entries(d.vcpupin))
      for (const c of cpus) put(c, { kind: 'vcpu', domain: d.name, vcpu: Number(vcpu) }, `${d.name} vCPU ${vcpu}`);
    for (const c of d.emulatorpin) put(c, { kind: 'emulator', domain: d.name }, `${d.name}'s emulator`);
  }
  for (const i of irqs) for (const c of i.cpus) put(c, { kind: 'irq', nic: i.nic, queue: i.queue }, `${i.nic} queue ${i.queue}`);

  const nodeInfo = new Map((facts.numa?.nodes ?? []).map((n) => [n.id, n]));
  const sockets = new Map<number, Map<number | null, Map<number, MapCpu[]>>>();
  for (const t of [...threads].sort((a, b) => a.socket - b.socket || (a.node ?? -1) - (b.node ?? -1) || a.core - b.core || a.id - b.id)) {
    const nodes = sockets.get(t.socket) ?? new Map();
    sockets.set(t.socket, nodes);
    const cores = nodes.get(t.node) ?? new Map();
    nodes.set(t.node, cores);
    const cpus = cores.get(t.core) ?? [];
    cores.set(t.core, cpus);
    const u = uses.get(t.id) ?? [];
    // pinned vCPUs or emulator threads make a CPU the guests'; interrupts alone do not
    cpus.push({ id: t.id, uses: u, host: !u.some((x) => x.kind !== 'irq') });
  }
  return {
    host,
    source,
    domains: [...new Set(domains.filter((d) => Object.keys(d.vcpupin).length || d.emulatorpin.length).map((d) => d.name))],
    warnings,
    sockets: [...sockets].map(([id, nodes]) => ({
      id,
      nodes: [...nodes].map(([nodeId, cores]) => {
        const info = nodeId === null ? undefined : nodeInfo.get(nodeId);
        return {
          id: nodeId,
          cores: [...cores].map(([core, cpus]) => ({ socket: id, core, cpus })),
          nics: (facts.nics ?? [])
            .filter((n) => !n.virtual && (n.numaNode ?? (nodeInfo.size <= 1 ? nodeId : null)) === nodeId)
            .map((n) => n.name),
          hugepages: Object.fromEntries(Object.entries(info?.hugepages ?? {}).map(([size, p]) => [size, p.total])),
          memTotalKiB: info?.memTotalKiB ?? null,
        };
      }),
    })),
  };
}
