// `hvtune probe` and `hvtune probe --compare` as a person reads them (the JSON has everything).

import { formatCpuList } from '../facts/cpulist.js';
import type { CompareLine, HostProbe } from '../probe/types.js';
import type { Style } from './format.js';

const num = (n: number | null | undefined) => (n == null ? '?' : Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1));
const sizeName = (kib: number) => (kib >= 1048576 ? `${kib / 1048576}G` : kib >= 1024 ? `${kib / 1024}M` : `${kib}K`);
const perCpu = (rows: { cpu: number; value: number }[]) => rows.map((r) => `cpu${r.cpu} ${num(r.value)}`).join(' · ') || 'none';
const counters = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, v]) => `${k} ${num(v)}`)
    .join(' · ');

export function formatProbe(name: string, p: HostProbe): string {
  const lines = [`${name}: rates per second over ${num(p.seconds)} s`];
  const row = (label: string, text: string) => lines.push(`  ${label.padEnd(11)}${text}`);
  if (p.netRx) row('NET_RX', perCpu(p.netRx.map((r) => ({ cpu: r.cpu, value: r.perSecond }))));
  if (p.softnet) {
    row('softnet', `processed ${perCpu(p.softnet.map((r) => ({ cpu: r.cpu, value: r.processed })))}`);
    row('', `dropped ${num(p.summary.softnetDropped)} · time_squeeze ${num(p.summary.timeSqueeze)} (all CPUs)`);
  }
  // Counters at zero say nothing, and a host may have hundreds of vnet links: quiet ones are counted.
  const moving = (x: Record<string, number>) => Object.fromEntries(Object.entries(x).filter(([, v]) => v > 0));
  const quiet: string[] = [];
  for (const [nic, c] of Object.entries(p.nics)) {
    const [stats, ethtool] = [moving(c.statistics), moving(c.ethtool)];
    if (!Object.keys(stats).length && !Object.keys(ethtool).length) {
      quiet.push(nic);
      continue;
    }
    row(`nic ${nic}`, counters(stats) || 'no packets');
    if (Object.keys(ethtool).length) row('', `ethtool ${counters(ethtool)}`);
  }
  if (quiet.length) row('quiet', `${quiet.length > 8 ? `${quiet.length} links` : quiet.join(', ')}: no packets, no drops`);
  for (const q of p.queues ?? [])
    row(
      'queue',
      `${q.nic} ${q.queue} (irq ${q.irq}, affinity ${q.affinity ? formatCpuList(q.affinity) : '?'}): ${num(q.perSecond)} · ${perCpu(q.perCpu.map((c) => ({ cpu: c.cpu, value: c.perSecond })))}`,
    );
  if (p.udp) row('udp', counters(p.udp));
  if (p.tcp && Object.values(p.tcp).some((v) => v > 0)) row('tcp', counters(p.tcp));
  for (const h of p.hugepages ?? [])
    if (h.total) row('hugepages', `node${h.node} ${sizeName(h.sizeKiB)}: ${h.used} used, ${h.free} free of ${h.total}`);
  for (const d of p.domains ?? []) {
    const m = d.memory;
    row(
      `domain`,
      `${d.name} (pid ${d.pid ?? '?'}): ${m ? `remote memory ${num(m.remotePercent)}% (local node${m.localNodes.length === 1 ? '' : 's'} ${m.localNodes.join(',') || '?'}, ${m.source})` : 'memory per node unknown'}`,
    );
    for (const v of d.vcpus ?? [])
      row('', `vCPU ${v.vcpu} on CPU ${v.cpu ?? '?'}, pinned ${formatCpuList(v.pin) || '?'}${v.offPin ? ' — OFF ITS PIN' : ''}`);
    for (const t of d.vhost) row('', `${t.name} (tid ${t.tid}) ran on ${formatCpuList(t.cpus)}, ${num(t.cpuPercent)}% CPU`);
  }
  if (p.summary.irqsOnVcpuCpus !== null)
    row('vCPU cores', `${formatCpuList(p.summary.vcpuCpus)}: NIC queue IRQs ${num(p.summary.irqsOnVcpuCpus)}/s on them`);
  for (const n of p.notes) row('note', n);
  return lines.join('\n');
}

export function formatComparison(lines: CompareLine[], missing: string[], style: Style): string {
  const out: string[] = [];
  const width = Math.max(0, ...lines.map((l) => l.what.length));
  let host = '';
  for (const l of lines) {
    if (l.host !== host) out.push(`${(host = l.host)}:`);
    const verdict = l.verdict === 'worse' ? style.red('worse') : l.verdict === 'better' ? style.green('better') : 'same';
    out.push(`  ${l.what.padEnd(width)}  ${num(l.before).padStart(10)} → ${num(l.after).padEnd(10)}  ${verdict}`);
  }
  for (const h of missing) out.push(`${h}: in one report only, not compared`);
  if (!lines.length) out.push('no difference that matters');
  return out.join('\n');
}
