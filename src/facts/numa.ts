// NUMA nodes: /sys/devices/system/node/nodeN/{cpulist,distance,meminfo,hugepages}. A kernel
// without NUMA support has no node directory: then all online CPUs form node 0, so templates
// can still say "node 0" on any machine.

import type { NumaFacts, NumaNode } from './types.js';
import { parseCpuListOrEmpty } from './cpulist.js';
import { type RawFacts, matchFiles, toInt } from './sections.js';

const NODE_RE = /^\/sys\/devices\/system\/node\/node(\d+)\/(cpulist|distance)$/;
const NODE_HP_RE = /^\/sys\/devices\/system\/node\/node(\d+)\/hugepages\/hugepages-(\d+)kB\/(nr|free)_hugepages$/;
const NODE_MEM_RE = /^\/sys\/devices\/system\/node\/node(\d+)\/meminfo$/;

/** "Node 0 MemTotal:  5073100 kB" → KiB. */
function nodeMeminfoValue(lines: readonly string[], key: string): number | null {
  for (const line of lines) {
    const m = new RegExp(`\\b${key}:\\s*(\\d+)\\s*kB`).exec(line);
    if (m) return Number(m[1]);
  }
  return null;
}

export function parseNuma(raw: RawFacts, onlineCpus: number[]): NumaFacts {
  const nodes = new Map<number, NumaNode>();
  const node = (id: number) =>
    nodes.get(id) ?? nodes.set(id, { id, cpus: [], memTotalKiB: null, memFreeKiB: null, distances: [], hugepages: {} }).get(id)!;
  for (const { m, lines } of matchFiles(raw, NODE_RE)) {
    const n = node(Number(m[1]));
    const text = (lines[0] ?? '').trim();
    if (m[2] === 'cpulist') n.cpus = parseCpuListOrEmpty(text);
    else
      n.distances = text
        .split(/\s+/)
        .map((d) => toInt(d))
        .filter((d): d is number => d !== null);
  }
  for (const { m, lines } of matchFiles(raw, NODE_HP_RE)) {
    const pools = node(Number(m[1])).hugepages;
    const pool = (pools[m[2]] ??= { total: 0, free: null });
    const value = toInt(lines[0]);
    if (m[3] === 'nr') pool.total = value ?? 0;
    else pool.free = value;
  }
  for (const { m, lines } of matchFiles(raw, NODE_MEM_RE)) {
    const n = node(Number(m[1]));
    n.memTotalKiB = nodeMeminfoValue(lines, 'MemTotal');
    n.memFreeKiB = nodeMeminfoValue(lines, 'MemFree');
  }
  if (nodes.size === 0 && onlineCpus.length) node(0).cpus = [...onlineCpus];
  return { nodes: [...nodes.values()].sort((a, b) => a.id - b.id) };
}

/** CPU → node map for the CPU parser. */
export function nodeOfCpu(numa: NumaFacts): Map<number, number> {
  const map = new Map<number, number>();
  for (const n of numa.nodes) for (const c of n.cpus) map.set(c, n.id);
  return map;
}
