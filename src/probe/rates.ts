// Two samples of a host → its probe: counters as rates per second over the host's own interval,
// state (pins, memory per node, hugepages) from the second sample. A counter that went back (a
// reset, a NIC re-created) has no rate: it is left out with a note, so rates are never negative.

import type { Facts, NicQueueIrq } from '../facts.js';
import type { CpuRate, DomainProbe, DomainSample, HostProbe, ProbeSample, QueueRate, SoftnetRow } from './types.js';

/** Per-driver counters that mean a packet was lost (ethtool -S and /sys statistics names). */
export const DROP_COUNTER = /drop|miss|no_?buf|fifo|discard|over_errors|overrun|squeeze|busy/i;

const round = (n: number) => Math.round(n * 1000) / 1000;

class RateMaker {
  readonly notes: string[] = [];
  constructor(readonly seconds: number) {}
  rate(what: string, before: number | undefined, after: number | undefined): number | null {
    if (before === undefined || after === undefined) return null;
    if (after < before) {
      this.notes.push(`${what} went back (${before} → ${after}): reset or re-created, no rate`);
      return null;
    }
    return round((after - before) / this.seconds);
  }
  /** name → rate for the counters both samples have and `keep` accepts. */
  rates(what: string, a: Record<string, number> | undefined, b: Record<string, number> | undefined, keep = (_: string) => true) {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(b ?? {})) {
      if (!keep(k)) continue;
      const r = this.rate(`${what} ${k}`, a?.[k], v);
      if (r !== null) out[k] = r;
    }
    return out;
  }
}

function nodeOf(facts: Facts): Map<number, number> {
  const map = new Map<number, number>();
  for (const t of facts.cpu?.threads ?? []) if (t.node !== null) map.set(t.id, t.node);
  for (const n of facts.numa?.nodes ?? []) for (const c of n.cpus) if (!map.has(c)) map.set(c, n.id);
  return map;
}

function domainProbe(a: DomainSample | undefined, b: DomainSample, facts: Facts, seconds: number, hz: number): DomainProbe {
  const online = facts.cpu?.online.length ?? 0;
  const vcpus = b.vcpus?.map((v) => ({ ...v, offPin: v.cpu !== null && v.pin.length > 0 && !v.pin.includes(v.cpu) })) ?? null;
  let memory: DomainProbe['memory'] = null;
  if (b.memoryByNodeKiB && b.memorySource) {
    const nodes = nodeOf(facts);
    const pinned = (vcpus ?? []).filter((v) => v.pin.length && v.pin.length < online).flatMap((v) => v.pin);
    const where = pinned.length ? pinned : (vcpus ?? []).flatMap((v) => (v.cpu === null ? [] : [v.cpu]));
    const localNodes = [...new Set(where.flatMap((c) => (nodes.has(c) ? [nodes.get(c)!] : [])))].sort((x, y) => x - y);
    const entries = Object.entries(b.memoryByNodeKiB);
    // Without NUMA knowledge, all memory counts as local: there is nothing remote to speak of.
    const local = entries.filter(([n]) => !localNodes.length || localNodes.includes(Number(n))).reduce((s, [, v]) => s + v, 0);
    const total = entries.reduce((s, [, v]) => s + v, 0);
    memory = {
      source: b.memorySource,
      byNodeKiB: b.memoryByNodeKiB,
      localNodes,
      localKiB: local,
      remoteKiB: total - local,
      remotePercent: total ? round(((total - local) / total) * 100) : 0,
    };
  }
  const vhost = b.vhost.map((t) => {
    const before = a?.vhost.find((x) => x.tid === t.tid);
    const ticks = before && t.ticks >= before.ticks ? t.ticks - before.ticks : null;
    return {
      tid: t.tid,
      name: t.name,
      cpus: [...new Set([before?.cpu, t.cpu].filter((c): c is number => c !== undefined))].sort((x, y) => x - y),
      cpuPercent: ticks === null ? null : round((ticks / hz / seconds) * 100),
    };
  });
  return { name: b.name, pid: b.pid, memory, vcpus, vhost };
}

/** Clock ticks per second of /proc/PID/stat: 100 on every Linux that hvtune meets (USER_HZ). */
const USER_HZ = 100;

export function probeRates(a: ProbeSample, b: ProbeSample, facts: Facts, fallbackSeconds: number): HostProbe {
  const measured = a.uptime !== null && b.uptime !== null ? b.uptime - a.uptime : null;
  const seconds = measured !== null && measured > 0 ? measured : fallbackSeconds;
  const r = new RateMaker(seconds);

  const netRx: CpuRate[] | null =
    a.softirqs && b.softirqs
      ? b.softirqs.netRx.flatMap((v, cpu) => {
          const rate = r.rate(`NET_RX softirqs of CPU ${cpu}`, a.softirqs!.netRx[cpu], v);
          return rate === null ? [] : [{ cpu, perSecond: rate }];
        })
      : null;

  const softnet: SoftnetRow[] | null =
    a.softnet && b.softnet
      ? b.softnet.flatMap((row) => {
          const before = a.softnet!.find((x) => x.cpu === row.cpu);
          const processed = r.rate(`softnet processed of CPU ${row.cpu}`, before?.processed, row.processed);
          const dropped = r.rate(`softnet dropped of CPU ${row.cpu}`, before?.dropped, row.dropped);
          const timeSqueeze = r.rate(`softnet time_squeeze of CPU ${row.cpu}`, before?.timeSqueeze, row.timeSqueeze);
          return processed === null || dropped === null || timeSqueeze === null ? [] : [{ cpu: row.cpu, processed, dropped, timeSqueeze }];
        })
      : null;

  const nics: HostProbe['nics'] = {};
  for (const nic of Object.keys(b.statistics).sort()) {
    nics[nic] = {
      statistics: r.rates(`${nic}`, a.statistics[nic], b.statistics[nic]),
      ethtool: r.rates(`${nic} ethtool`, a.ethtool?.[nic], b.ethtool?.[nic], (k) => DROP_COUNTER.test(k)),
    };
  }

  const queueIrqs = new Map<number, { nic: string; q: NicQueueIrq }>();
  for (const n of facts.nics ?? []) for (const q of n.irq ?? []) queueIrqs.set(q.irq, { nic: n.name, q });
  const queues: QueueRate[] | null =
    a.interrupts && b.interrupts
      ? b.interrupts.flatMap((line) => {
          const known = queueIrqs.get(line.irq);
          const before = a.interrupts!.find((x) => x.irq === line.irq);
          if (!known || !before) return [];
          const perCpu = line.counts.flatMap((v, cpu) => {
            const rate = r.rate(`IRQ ${line.irq} on CPU ${cpu}`, before.counts[cpu] ?? 0, v);
            return rate ? [{ cpu, perSecond: rate }] : [];
          });
          return [
            {
              nic: known.nic,
              queue: known.q.queue,
              irq: line.irq,
              affinity: known.q.affinity,
              perCpu,
              perSecond: round(perCpu.reduce((s, c) => s + c.perSecond, 0)),
            },
          ];
        })
      : null;

  const domains =
    b.domains?.map((d) =>
      domainProbe(
        a.domains?.find((x) => x.name === d.name),
        d,
        facts,
        seconds,
        USER_HZ,
      ),
    ) ?? null;
  const online = facts.cpu?.online.length ?? 0;
  const vcpuCpus = [
    ...new Set((domains ?? []).flatMap((d) => (d.vcpus ?? []).filter((v) => v.pin.length && v.pin.length < online).flatMap((v) => v.pin))),
  ].sort((x, y) => x - y);
  const sum = (rows: SoftnetRow[] | null, k: 'dropped' | 'timeSqueeze') => (rows ? round(rows.reduce((s, x) => s + x[k], 0)) : null);

  return {
    seconds: round(seconds),
    netRx,
    softnet,
    udp: a.udp && b.udp ? r.rates('udp', a.udp, b.udp) : null,
    tcp: a.tcp && b.tcp ? r.rates('tcp', a.tcp, b.tcp) : null,
    nics,
    queues,
    hugepages: b.hugepages?.map((p) => ({ ...p, used: p.total - p.free })) ?? null,
    domains,
    summary: {
      softnetDropped: sum(softnet, 'dropped'),
      timeSqueeze: sum(softnet, 'timeSqueeze'),
      vcpuCpus,
      irqsOnVcpuCpus:
        queues && vcpuCpus.length
          ? round(queues.flatMap((q) => q.perCpu).reduce((s, c) => s + (vcpuCpus.includes(c.cpu) ? c.perSecond : 0), 0))
          : null,
      vcpusOffPin: domains ? domains.reduce((s, d) => s + (d.vcpus ?? []).filter((v) => v.offPin).length, 0) : null,
    },
    notes: [...new Set([...a.notes, ...b.notes, ...r.notes])],
  };
}
