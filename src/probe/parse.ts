// The sampler's output → a ProbeSample. Never throws: what a host could not give is null, and the
// notes say why, so a missing tool or file drops a section, never the probe.

import { parseInterruptLines } from '../facts/irq.js';
import { parsePathLines, splitSections, type Section } from '../facts/sections.js';
import type { DomainSample, ProbeSample, SoftnetRow, ThreadSample, VcpuState } from './types.js';

const lines = (sections: Section[], name: string, arg?: string) =>
  sections.find((s) => s.name === name && (arg === undefined || s.arg === arg))?.lines;

/** /proc/softirqs rows NET_RX and NET_TX, indexed by CPU number. */
export function parseSoftirqs(text: readonly string[] | undefined): ProbeSample['softirqs'] {
  let cpus: number[] = [];
  const rows: Record<string, number[]> = {};
  for (const line of text ?? []) {
    if (/^\s*CPU\d+/.test(line))
      cpus = line
        .trim()
        .split(/\s+/)
        .map((w) => Number(w.slice(3)));
    const m = /^\s*(NET_RX|NET_TX):\s+(.*)$/.exec(line);
    if (!m) continue;
    const counts = Array.from({ length: cpus.length ? Math.max(...cpus) + 1 : 0 }, () => 0);
    m[2]
      .trim()
      .split(/\s+/)
      .forEach((w, i) => {
        if (i < cpus.length && /^\d+$/.test(w)) counts[cpus[i]] = Number(w);
      });
    rows[m[1]] = counts;
  }
  return rows.NET_RX ? { netRx: rows.NET_RX, netTx: rows.NET_TX ?? [] } : null;
}

/** /proc/net/softnet_stat: hex columns processed, dropped, time_squeeze…; column 13 is the CPU (5.10+), else the row. */
export function parseSoftnet(text: readonly string[] | undefined): SoftnetRow[] | null {
  const rows: SoftnetRow[] = [];
  (text ?? []).forEach((line, row) => {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 3 || !cols.every((c) => /^[0-9a-f]+$/i.test(c))) return;
    const hex = (i: number) => Number.parseInt(cols[i], 16);
    rows.push({ cpu: cols.length >= 13 ? hex(12) : row, processed: hex(0), dropped: hex(1), timeSqueeze: hex(2) });
  });
  return rows.length ? rows : null;
}

/** Header and value lines of /proc/net/snmp or /proc/net/netstat for one prefix ("Udp:") → name → value. */
export function parseHeaderValues(text: readonly string[] | undefined): Record<string, number> | null {
  const [head, values] = text ?? [];
  if (!head || !values) return null;
  const names = head.trim().split(/\s+/).slice(1);
  const nums = values.trim().split(/\s+/).slice(1);
  const out: Record<string, number> = {};
  names.forEach((n, i) => {
    if (/^-?\d+$/.test(nums[i] ?? '')) out[n] = Number(nums[i]);
  });
  return Object.keys(out).length ? out : null;
}

/** `ethtool -S` lines "     rx_dropped: 12" → name → value. */
export function parseEthtoolStats(text: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text) {
    const m = /^\s*([^:]+?):\s*(\d+)\s*$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** `virsh vcpuinfo` blocks (VCPU, CPU, State, CPU time, CPU Affinity as y/- per host CPU). */
export function parseVcpuinfo(text: readonly string[]): VcpuState[] {
  const out: VcpuState[] = [];
  let cur: VcpuState | null = null;
  for (const line of text) {
    const m = /^\s*([A-Za-z ]+?):\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const [key, value] = [m[1].toLowerCase(), m[2]];
    if (key === 'vcpu') out.push((cur = { vcpu: Number(value), cpu: null, pin: [] }));
    else if (cur && key === 'cpu') cur.cpu = /^\d+$/.test(value) ? Number(value) : null;
    else if (cur && key === 'cpu affinity') cur.pin = [...value].flatMap((c, i) => (c === 'y' ? [i] : []));
  }
  return out;
}

/**
 * `numastat -p PID`: a table with a "Node N" column per node and a "Total" row, in MiB. The Total
 * row gives memory per node (KiB here).
 */
export function parseNumastat(text: readonly string[]): Record<string, number> | null {
  let nodes: string[] = [];
  for (const line of text) {
    if (/^\s*Node\s+\d+/.test(line) || /Node \d+.*Total\s*$/.test(line)) nodes = [...line.matchAll(/Node (\d+)/g)].map((m) => m[1]);
    const total = /^Total\s+(.*)$/.exec(line.trim());
    if (total && nodes.length) {
      const nums = total[1].trim().split(/\s+/).map(Number);
      const out: Record<string, number> = {};
      nodes.forEach((n, i) => {
        if (Number.isFinite(nums[i])) out[n] = Math.round(nums[i] * 1024);
      });
      return out;
    }
  }
  return null;
}

/** The awk summary of numa_maps ("N0=123456" in KiB per line) → node → KiB. */
export function parseNumaMapsSummary(text: readonly string[]): Record<string, number> | null {
  const out: Record<string, number> = {};
  for (const line of text) {
    const m = /^N(\d+)=(\d+)$/.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  return Object.keys(out).length ? out : null;
}

/** /proc/T/stat → tid, name, last CPU (field 39) and utime + stime; the name may hold spaces and parentheses. */
export function parseStat(line: string): ThreadSample | null {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = line.slice(close + 2).split(/\s+/); // rest[0] is field 3
  const field = (n: number) => Number(rest[n - 3]);
  const tid = Number(line.slice(0, open).trim());
  if (!Number.isInteger(tid) || rest.length < 37) return null;
  return { tid, name: line.slice(open + 1, close), cpu: field(39), ticks: field(14) + field(15) };
}

function parseHugepages(text: readonly string[] | undefined): ProbeSample['hugepages'] {
  const pools = new Map<string, { node: number; sizeKiB: number; total: number; free: number }>();
  for (const [path, [value]] of parsePathLines(text ?? [])) {
    const m = /node(\d+)\/hugepages\/hugepages-(\d+)kB\/(nr|free)_hugepages$/.exec(path);
    if (!m || !/^\d+$/.test(value?.trim() ?? '')) continue;
    const key = `${m[1]}/${m[2]}`;
    const pool = pools.get(key) ?? pools.set(key, { node: Number(m[1]), sizeKiB: Number(m[2]), total: 0, free: 0 }).get(key)!;
    pool[m[3] === 'nr' ? 'total' : 'free'] = Number(value);
  }
  return pools.size ? [...pools.values()].sort((a, b) => a.node - b.node || a.sizeKiB - b.sizeKiB) : null;
}

/** /proc/net/dev column names, as rx_/tx_ counters (drop = dropped + missed, frame = length + over + crc + frame errors). */
const NETDEV_COLUMNS = [
  ['rx_bytes', 'rx_packets', 'rx_errs', 'rx_drop', 'rx_fifo', 'rx_frame', 'rx_compressed', 'rx_multicast'],
  ['tx_bytes', 'tx_packets', 'tx_errs', 'tx_drop', 'tx_fifo', 'tx_colls', 'tx_carrier', 'tx_compressed'],
].flat();
const NETDEV_KEPT = new Set(['rx_packets', 'rx_errs', 'rx_drop', 'rx_fifo', 'rx_frame', 'tx_packets', 'tx_errs', 'tx_drop', 'tx_fifo']);

/** /proc/net/dev rows and /sys statistics files → NIC → counter → value. */
function parseStatistics(netdev: readonly string[] | undefined, text: readonly string[] | undefined): ProbeSample['statistics'] {
  const out: ProbeSample['statistics'] = {};
  for (const line of netdev ?? []) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const values = m[2].trim().split(/\s+/);
    if (values.length < NETDEV_COLUMNS.length || !values.every((v) => /^\d+$/.test(v))) continue;
    const nic = (out[m[1]] ??= {});
    NETDEV_COLUMNS.forEach((name, i) => {
      if (NETDEV_KEPT.has(name)) nic[name] = Number(values[i]);
    });
  }
  for (const [path, [value]] of parsePathLines(text ?? [])) {
    const m = /^\/sys\/class\/net\/([^/]+)\/statistics\/(\w+)$/.exec(path);
    if (m && /^\d+$/.test(value?.trim() ?? '')) (out[m[1]] ??= {})[m[2]] = Number(value);
  }
  return out;
}

function parseDomains(sections: Section[], kthreads: ThreadSample[]): DomainSample[] | null {
  if (!sections.some((s) => s.name === 'domains')) return null;
  return sections
    .filter((s) => s.name === 'domain')
    .map((s): DomainSample => {
      const name = s.arg;
      const pidText = /^pid=(\d+)$/.exec(s.lines[0] ?? '')?.[1];
      const pid = pidText ? Number(pidText) : null;
      const vcpuText = lines(sections, 'vcpuinfo', name);
      const numastat = lines(sections, 'numastat', name);
      const numaMaps = lines(sections, 'numa_maps', name);
      const byNode = numastat ? parseNumastat(numastat) : numaMaps ? parseNumaMapsSummary(numaMaps) : null;
      const threads = (lines(sections, 'threads', name) ?? []).map(parseStat).filter((t): t is ThreadSample => t !== null);
      const own = pid === null ? [] : kthreads.filter((t) => t.name === `vhost-${pid}`);
      return {
        name,
        pid,
        vcpus: vcpuText ? parseVcpuinfo(vcpuText) : null,
        memoryByNodeKiB: byNode,
        memorySource: byNode ? (numastat ? 'numastat' : 'numa_maps') : null,
        vhost: [...own, ...threads.filter((t) => t.name.startsWith('vhost-'))],
      };
    });
}

export function parseSample(stdout: string, queueIrqs: readonly number[]): ProbeSample {
  const sections = splitSections(stdout);
  const notes: string[] = [];
  const missing = new Set(sections.filter((s) => s.name === 'missing').map((s) => s.arg));
  const uptime = Number.parseFloat(lines(sections, 'uptime')?.[0] ?? '');
  const softirqs = parseSoftirqs(lines(sections, 'softirqs'));
  if (!softirqs) notes.push('no NET_RX row in /proc/softirqs');
  const softnet = parseSoftnet(lines(sections, 'softnet'));
  if (!softnet) notes.push('/proc/net/softnet_stat is missing');
  const udp = parseHeaderValues(lines(sections, 'snmp'));
  const tcpAll = parseHeaderValues(lines(sections, 'netstat'));
  const tcp =
    tcpAll &&
    Object.fromEntries(Object.entries(tcpAll).filter(([k]) => /ListenOverflows|ListenDrops|BacklogDrop|RcvQDrop|OFODrop/.test(k)));
  let ethtool: ProbeSample['ethtool'] = null;
  if (missing.has('ethtool')) notes.push('ethtool is not installed: no per-driver drop counters');
  else {
    ethtool = {};
    for (const s of sections.filter((x) => x.name === 'ethtool-S')) ethtool[s.arg] = parseEthtoolStats(s.lines);
  }
  let interrupts: ProbeSample['interrupts'] = null;
  if (queueIrqs.length) {
    const wanted = new Set(queueIrqs);
    interrupts = parseInterruptLines(lines(sections, 'interrupts') ?? [])
      .filter((l) => wanted.has(l.irq))
      .map((l) => ({ irq: l.irq, counts: l.counts }));
  } else notes.push('no NIC queue IRQs in the facts (software links only, or no MSI vectors): no interrupts per queue');
  const hugepages = parseHugepages(lines(sections, 'hugepages'));
  if (!hugepages) notes.push('no per-node hugepage pools (/sys/devices/system/node)');
  const kthreads = (lines(sections, 'vhost') ?? []).map(parseStat).filter((t): t is ThreadSample => t !== null);
  const domains = parseDomains(sections, kthreads);
  if (!domains) notes.push('libvirt is absent or did not answer: no domains');
  else if (domains.some((d) => d.pid !== null && !d.memorySource))
    notes.push('neither numastat nor /proc/PID/numa_maps answered: no memory per node');
  return {
    uptime: Number.isFinite(uptime) ? uptime : null,
    softirqs,
    softnet,
    udp,
    tcp,
    statistics: parseStatistics(lines(sections, 'netdev'), lines(sections, 'statistics')),
    ethtool,
    interrupts,
    hugepages,
    domains,
    notes,
  };
}
