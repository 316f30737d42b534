// Where the reboot module's `evacuate: migrate` sends each running domain: pure parsers of what the
// source says about its domains (memory, hugepage backing) and what each peer has free, and the
// choice itself, with the reason for it in words.

import type { PeerRead } from '../../src/module.js';
import { sh } from '../../src/quote.js';

/** A running domain as the source host describes it. */
export interface DomainNeed {
  name: string;
  /** Max memory (virsh dominfo), KiB: what the domain may use on its new host. */
  memoryKiB: number;
  /**
   * Backed by hugepages (<memoryBacking><hugepages>): the page size in KiB, or 'default' (the
   * receiving host's default size); null when backed by ordinary memory.
   */
  hugepages: number | 'default' | null;
}

/** What a peer has free, or why it cannot take domains. */
export interface PeerRoom {
  name: string;
  address: string;
  /** MemAvailable, KiB */
  availableKiB: number;
  /** default hugepage size (Hugepagesize), KiB */
  defaultHugepageKiB: number;
  /** free hugepages by page size in KiB */
  freeHugepages: Record<number, number>;
  /** why it cannot receive domains (unreachable, libvirt not answering); null when it can */
  problem: string | null;
}

export interface Migration {
  domain: string;
  peer: string;
  /** the libvirt URI the source migrates to */
  uri: string;
  /** why this peer: its room before this domain, in words */
  why: string;
}

/** Source read: each running domain's dominfo and the <memoryBacking> part of its live XML. */
export const domainNeedsScript = (uri: string) =>
  sh`virsh -q -c ${uri} list --state-running --name | while IFS= read -r d; do
  [ -n "$d" ] || continue
  printf '::hvtune:: domain %s\\n' "$d"
  virsh -q -c ${uri} dominfo --domain "$d"
  virsh -q -c ${uri} dumpxml --domain "$d" | sed -n '/<memoryBacking>/,/<\\/memoryBacking>/p'
done`;

/** Peer read: free memory, free hugepages per size, and whether its libvirt answers. */
export const peerRoomScript = (uri: string) =>
  sh`grep -E '^(MemAvailable|Hugepagesize):' /proc/meminfo
for f in /sys/kernel/mm/hugepages/hugepages-*kB/free_hugepages; do [ -r "$f" ] && printf 'free %s %s\\n' "$f" "$(cat "$f")"; done
if err=$(virsh -q -c ${uri} version 2>&1 >/dev/null); then echo '::hvtune:: libvirt ok'
else printf '::hvtune:: libvirt error %s\\n' "$(printf %s "$err" | tr '\\n' ' ')"; fi`;

const UNIT_KIB: Record<string, number> = { b: 1 / 1024, bytes: 1 / 1024, k: 1, kib: 1, m: 1024, mib: 1024, g: 1024 ** 2, gib: 1024 ** 2 };

export function parseDomainNeeds(out: string): DomainNeed[] {
  const needs: DomainNeed[] = [];
  for (const part of out.split('::hvtune:: domain ').slice(1)) {
    const [name, ...rest] = part.split('\n');
    const body = rest.join('\n');
    const mem = /^Max memory:\s+(\d+)\s*KiB/m.exec(body);
    let hugepages: DomainNeed['hugepages'] = null;
    if (/<hugepages\s*\/>|<hugepages>/.test(body)) {
      const page = /<page\s[^>]*size=['"](\d+)['"](?:[^>]*unit=['"](\w+)['"])?/.exec(body);
      hugepages = page ? Number(page[1]) * (UNIT_KIB[(page[2] ?? 'KiB').toLowerCase()] ?? 1) : 'default';
    }
    needs.push({ name: name.trim(), memoryKiB: mem ? Number(mem[1]) : 0, hugepages });
  }
  return needs;
}

export function parsePeerRoom(peer: PeerRead): PeerRoom {
  const room: PeerRoom = {
    name: peer.name,
    address: peer.address,
    availableKiB: 0,
    defaultHugepageKiB: 0,
    freeHugepages: {},
    problem: peer.error ?? null,
  };
  const r = peer.results?.[0];
  if (room.problem !== null) return room;
  if (!r || !('stdout' in r)) return { ...room, problem: 'not read' };
  for (const line of r.stdout.split('\n')) {
    const kv = /^(MemAvailable|Hugepagesize):\s+(\d+) kB/.exec(line);
    if (kv?.[1] === 'MemAvailable') room.availableKiB = Number(kv[2]);
    else if (kv?.[1] === 'Hugepagesize') room.defaultHugepageKiB = Number(kv[2]);
    const free = /^free \S*hugepages-(\d+)kB\/free_hugepages (\d+)$/.exec(line);
    if (free) room.freeHugepages[Number(free[1])] = Number(free[2]);
    if (line.startsWith('::hvtune:: libvirt error')) room.problem = `libvirt does not answer (${line.slice(25).trim() || 'virsh failed'})`;
  }
  if (room.problem === null && !r.stdout.includes('::hvtune:: libvirt ok')) room.problem = 'libvirt does not answer';
  return room;
}

/** 1048576 → "1 GiB", 65536 → "64 MiB" */
export function sizeText(kib: number): string {
  if (kib >= 1024 ** 2) return `${+(kib / 1024 ** 2).toFixed(1)} GiB`;
  if (kib >= 1024) return `${+(kib / 1024).toFixed(1)} MiB`;
  return `${kib} KiB`;
}

const pageSizeOf = (need: DomainNeed, peer: PeerRoom): number =>
  need.hugepages === 'default' ? peer.defaultHugepageKiB : (need.hugepages as number);

/** Room a peer has left for a domain of this kind: KiB of ordinary memory, or free pages of its size. */
function roomFor(need: DomainNeed, peer: PeerRoom): { fits: boolean; score: number; text: string } {
  if (need.hugepages === null) {
    return { fits: peer.availableKiB >= need.memoryKiB, score: peer.availableKiB, text: `${sizeText(peer.availableKiB)} available` };
  }
  const size = pageSizeOf(need, peer);
  const free = size > 0 ? (peer.freeHugepages[size] ?? 0) : 0;
  const pages = size > 0 ? Math.ceil(need.memoryKiB / size) : Number.POSITIVE_INFINITY;
  return { fits: free >= pages, score: free * size, text: `${free} free ${sizeText(size)} pages` };
}

const needText = (need: DomainNeed) =>
  need.hugepages === null
    ? sizeText(need.memoryKiB)
    : `${sizeText(need.memoryKiB)} in ${need.hugepages === 'default' ? 'default-size' : sizeText(need.hugepages)} hugepages`;

/**
 * A peer for every domain: the largest domains first, each to the peer with the most room of its
 * kind left (free memory, or free pages of its hugepage size), counting what was placed before.
 * Throws, naming each peer's room, when a domain fits nowhere: then nothing moves.
 */
export function choosePeers(needs: DomainNeed[], peers: PeerRoom[], uriFor: (peer: PeerRoom) => string): Migration[] {
  const left = peers.filter((p) => p.problem === null).map((p) => ({ ...p, freeHugepages: { ...p.freeHugepages } }));
  const order = [...needs].sort((a, b) => b.memoryKiB - a.memoryKiB || a.name.localeCompare(b.name));
  const chosen = new Map<string, Migration>();
  for (const need of order) {
    const rooms = left.map((p) => ({ peer: p, ...roomFor(need, p) }));
    const best = rooms.filter((r) => r.fits).sort((a, b) => b.score - a.score || a.peer.name.localeCompare(b.peer.name))[0];
    if (!best) {
      const seen = [
        ...rooms.map((r) => `${r.peer.name}: ${r.text}`),
        ...peers.filter((p) => p.problem !== null).map((p) => `${p.name}: ${p.problem}`),
      ];
      throw new Error(`no peer has room for ${need.name} (${needText(need)})${seen.length ? `: ${seen.join('; ')}` : ''}`);
    }
    const others = rooms.filter((r) => r !== best && r.fits).map((r) => r.peer.name);
    const why = `${needText(need)}; ${best.text} there${others.length ? `, the most of ${[best.peer.name, ...others].join(', ')}` : ''}`;
    chosen.set(need.name, { domain: need.name, peer: best.peer.name, uri: uriFor(best.peer), why });
    // what this domain takes is no longer there for the next
    if (need.hugepages === null) best.peer.availableKiB -= need.memoryKiB;
    else {
      const size = pageSizeOf(need, best.peer);
      best.peer.freeHugepages[size] -= Math.ceil(need.memoryKiB / size);
    }
  }
  return needs.map((n) => chosen.get(n.name)!);
}
