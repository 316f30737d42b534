// CPU model, flags and topology: /proc/cpuinfo (first processor block) and
// /sys/devices/system/cpu/cpuN/topology. Topology comes from sysfs, not from cpuinfo's
// "siblings"/"cpu cores" (the seed 002 script), because sysfs names each thread's siblings.

import type { CpuFacts, CpuThread } from './types.js';
import { parseCpuListOrEmpty } from './cpulist.js';
import { type RawFacts, fileText, matchFiles, sectionLines, toInt } from './sections.js';

const CPU_DIR = '/sys/devices/system/cpu';

/** "key\t: value" lines of one /proc/cpuinfo block → map (first occurrence wins). */
export function parseCpuinfoBlock(lines: readonly string[]): Map<string, string> {
  const kv = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const key = line.slice(0, i).trim().toLowerCase();
    if (key && !kv.has(key)) kv.set(key, line.slice(i + 1).trim());
  }
  return kv;
}

export function cpuFeatures(flags: ReadonlySet<string>): CpuFacts['features'] {
  return {
    vmx: flags.has('vmx'),
    svm: flags.has('svm'),
    ept: flags.has('ept'),
    npt: flags.has('npt'),
    pdpe1gb: flags.has('pdpe1gb'),
    pse: flags.has('pse'),
    hypervisor: flags.has('hypervisor'),
  };
}

/**
 * Threads from per-CPU topology files. CPUs without topology files (offline, or a sysfs that
 * lacks them) that are online still count, as their own core on socket 0.
 */
export function parseThreads(raw: RawFacts, online: number[], nodeOf: Map<number, number>): CpuThread[] {
  const byId = new Map<number, Partial<CpuThread>>();
  const entry = (id: number) => byId.get(id) ?? byId.set(id, {}).get(id)!;
  const re = /^\/sys\/devices\/system\/cpu\/cpu(\d+)\/topology\/(core_id|physical_package_id|thread_siblings_list)$/;
  for (const { m, lines } of matchFiles(raw, re)) {
    const e = entry(Number(m[1]));
    const text = (lines[0] ?? '').trim();
    if (m[2] === 'core_id') e.core = toInt(text) ?? undefined;
    else if (m[2] === 'physical_package_id') e.socket = toInt(text) ?? undefined;
    else e.siblings = parseCpuListOrEmpty(text);
  }
  const ids = new Set<number>(online.length ? online : byId.keys());
  return [...ids]
    .sort((a, b) => a - b)
    .map((id) => {
      const e = byId.get(id) ?? {};
      // physical_package_id is -1 on some virtual machines: treat it as socket 0.
      const socket = e.socket !== undefined && e.socket >= 0 ? e.socket : 0;
      const siblings = (e.siblings?.length ? e.siblings : [id]).filter((c) => ids.has(c));
      return { id, core: e.core ?? id, socket, node: nodeOf.get(id) ?? null, siblings: siblings.length ? siblings : [id] };
    });
}

export function summariseTopology(
  threads: readonly CpuThread[],
): Pick<CpuFacts, 'sockets' | 'coresPerSocket' | 'threadsPerCore' | 'hyperThreading'> {
  const sockets = new Set(threads.map((t) => t.socket));
  const coresBySocket = new Map<number, Set<number>>();
  for (const t of threads) (coresBySocket.get(t.socket) ?? coresBySocket.set(t.socket, new Set()).get(t.socket)!).add(t.core);
  const coresPerSocket = Math.max(0, ...[...coresBySocket.values()].map((s) => s.size));
  const threadsPerCore = Math.max(threads.length ? 1 : 0, ...threads.map((t) => t.siblings.length));
  return { sockets: sockets.size, coresPerSocket, threadsPerCore, hyperThreading: threadsPerCore > 1 };
}

export function parseCpu(raw: RawFacts, nodeOf: Map<number, number>): CpuFacts {
  const info = parseCpuinfoBlock(sectionLines(raw, 'cpuinfo') ?? []);
  // x86 names first, then the arm64/ppc/s390 spellings.
  const vendor = info.get('vendor_id') ?? info.get('cpu implementer') ?? info.get('vendor') ?? '';
  const model = info.get('model name') ?? info.get('cpu model') ?? info.get('cpu') ?? info.get('processor') ?? '';
  const flagText = info.get('flags') ?? info.get('features') ?? '';
  const flags = flagText.split(/\s+/).filter(Boolean);
  // Kernels since 5.8 also list VMX sub-features (ept…) on a "vmx flags" line.
  const all = new Set([...flags, ...(info.get('vmx flags') ?? '').split(/\s+/).filter(Boolean)]);
  const online = parseCpuListOrEmpty(fileText(raw, `${CPU_DIR}/online`));
  const threads = parseThreads(raw, online, nodeOf);
  return {
    vendor,
    model,
    flags,
    features: cpuFeatures(all),
    ...summariseTopology(threads),
    online: online.length ? online : threads.map((t) => t.id),
    threads,
  };
}
