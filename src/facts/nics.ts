// NICs from /sys/class/net: the class symlink says where the device sits (PCI address, virtio
// device, or /devices/virtual), device/driver names the driver, queues/ holds rx-N/tx-N, and
// `ethtool -g/-l` (device-backed NICs only) gives ring and channel limits. Per-queue interrupt
// counts of virtio NICs come from /proc/interrupts (virtio0-input.K).

import type { NicFacts, NicQueueInterrupts } from './types.js';
import { type RawFacts, fileText, sectionLines, toInt } from './sections.js';
import { parseNicQueueIrqs } from './irq.js';

const NET = '/sys/class/net/';
const PCI_ADDR = /([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\//g;

/** `ls -ld` lines → symlink path → target. Lines without " -> " (not links, junk) are skipped. */
export function parseSymlinks(lines: readonly string[]): Map<string, string> {
  const links = new Map<string, string>();
  for (const line of lines) {
    const m = /(\/\S+) -> (\S+)\s*$/.exec(line);
    if (m) links.set(m[1], m[2]);
  }
  return links;
}

const basename = (p: string) => p.replace(/\/+$/, '').split('/').pop() ?? '';

/** The last PCI address in a device path (a virtio NIC sits below its PCI function). */
export function pciAddressOf(target: string): string | null {
  const all = [...`${target}/`.matchAll(PCI_ADDR)];
  return all.length ? all[all.length - 1][1] : null;
}

/** Parse `ethtool -g` or `ethtool -l` text: { maximums, current } as lower-case key → number|null. */
export function parseEthtoolBlocks(
  lines: readonly string[],
): { max: Map<string, number | null>; current: Map<string, number | null> } | null {
  const max = new Map<string, number | null>();
  const current = new Map<string, number | null>();
  let block: Map<string, number | null> | null = null;
  for (const line of lines) {
    if (/^pre-set maximums:/i.test(line.trim())) block = max;
    else if (/^current hardware settings:/i.test(line.trim())) block = current;
    else if (block) {
      const m = /^\s*([A-Za-z][A-Za-z ]*?):\s*(\S+)\s*$/.exec(line);
      if (m) block.set(m[1].toLowerCase(), /^\d+$/.test(m[2]) ? Number(m[2]) : null);
    }
  }
  return max.size || current.size ? { max, current } : null;
}

export function parseRing(lines: readonly string[] | undefined): NicFacts['ring'] {
  const b = lines && parseEthtoolBlocks(lines);
  if (!b) return null;
  return {
    rxMax: b.max.get('rx') ?? null,
    txMax: b.max.get('tx') ?? null,
    rx: b.current.get('rx') ?? null,
    tx: b.current.get('tx') ?? null,
  };
}

export function parseChannels(lines: readonly string[] | undefined): NicFacts['channels'] {
  const b = lines && parseEthtoolBlocks(lines);
  if (!b) return null;
  return {
    maxCombined: b.max.get('combined') ?? null,
    maxRx: b.max.get('rx') ?? null,
    maxTx: b.max.get('tx') ?? null,
    combined: b.current.get('combined') ?? null,
    rx: b.current.get('rx') ?? null,
    tx: b.current.get('tx') ?? null,
  };
}

/** /proc/interrupts lines (header "CPU0 CPU1 …" first) → virtio device → per-queue counts. */
export function parseVirtioInterrupts(lines: readonly string[]): Map<string, NicQueueInterrupts> {
  let cpus: number[] = [];
  const out = new Map<string, NicQueueInterrupts>();
  for (const line of lines) {
    if (/^\s*CPU\d+/.test(line)) {
      cpus = line
        .trim()
        .split(/\s+/)
        .map((w) => Number(w.replace(/^CPU/, '')));
      continue;
    }
    const words = line.trim().split(/\s+/);
    const name = /^(virtio\d+)-(input|output)\.(\d+)$/.exec(words[words.length - 1] ?? '');
    if (!name || !/^\d+:$/.test(words[0] ?? '')) continue;
    const counts: number[] = [];
    for (const w of words.slice(1)) {
      if (!/^\d+$/.test(w) || counts.length >= (cpus.length || Infinity)) break;
      counts.push(Number(w));
    }
    const dev = out.get(name[1]) ?? out.set(name[1], { input: [], output: [], inputCpus: [] }).get(name[1])!;
    const queue = Number(name[3]);
    const total = counts.reduce((a, b) => a + b, 0);
    if (name[2] === 'input') {
      dev.input[queue] = total;
      dev.inputCpus[queue] = counts.flatMap((c, i) => (c > 0 ? [cpus[i] ?? i] : []));
    } else dev.output[queue] = total;
  }
  // Queues missing from the listing count as 0 rather than leaving holes in the arrays.
  for (const d of out.values()) {
    d.input = Array.from(d.input, (v) => v ?? 0);
    d.output = Array.from(d.output, (v) => v ?? 0);
    d.inputCpus = Array.from(d.inputCpus, (v) => v ?? []);
  }
  return out;
}

export function parseNics(raw: RawFacts): NicFacts[] {
  const links = parseSymlinks(sectionLines(raw, 'links') ?? []);
  const names = new Set<string>();
  for (const path of [...links.keys(), ...raw.files.keys()]) {
    const m = /^\/sys\/class\/net\/([^/]+)(?:\/|$)/.exec(path);
    if (m) names.add(m[1]);
  }
  const queues = new Map<string, { rx: number; tx: number }>();
  for (const line of sectionLines(raw, 'queues') ?? []) {
    const m = /^\/sys\/class\/net\/([^/]+)\/queues\/(rx|tx)-\d+$/.exec(line.trim());
    if (!m) continue;
    names.add(m[1]);
    const q = queues.get(m[1]) ?? queues.set(m[1], { rx: 0, tx: 0 }).get(m[1])!;
    q[m[2] as 'rx' | 'tx']++;
  }
  const interrupts = parseVirtioInterrupts(sectionLines(raw, 'interrupts') ?? []);
  const virtioOf = new Map<string, string>();
  for (const name of names) {
    const target = links.get(`${NET}${name}/device`);
    if (target && /^virtio\d+$/.test(basename(target))) virtioOf.set(name, basename(target));
  }
  const queueIrqs = parseNicQueueIrqs(raw, virtioOf);
  return [...names].sort().map((name): NicFacts => {
    const base = NET + name;
    const classTarget = links.get(base) ?? '';
    const deviceTarget = links.get(`${base}/device`);
    const driverTarget = links.get(`${base}/device/driver`);
    const virtio = deviceTarget && /^virtio\d+$/.test(basename(deviceTarget)) ? basename(deviceTarget) : null;
    const numa = toInt(fileText(raw, `${base}/device/numa_node`));
    const speed = toInt(fileText(raw, `${base}/speed`));
    return {
      name,
      driver: driverTarget ? basename(driverTarget) : null,
      mac: fileText(raw, `${base}/address`) || null,
      pci: pciAddressOf(classTarget),
      // The kernel says -1 when the platform gives no locality.
      numaNode: numa !== null && numa >= 0 ? numa : null,
      virtual: deviceTarget === undefined,
      speedMbps: speed !== null && speed > 0 ? speed : null,
      mtu: toInt(fileText(raw, `${base}/mtu`)),
      operstate: fileText(raw, `${base}/operstate`) || null,
      rxQueues: queues.get(name)?.rx ?? 0,
      txQueues: queues.get(name)?.tx ?? 0,
      ring: parseRing(sectionLines(raw, 'ethtool-g', name)),
      channels: parseChannels(sectionLines(raw, 'ethtool-l', name)),
      virtio,
      interrupts: (virtio && interrupts.get(virtio)) || null,
      irq: queueIrqs.get(name) ?? null,
    };
  });
}
