// Names and addresses of tier-1 lab hosts. Test files run in parallel workers and other labs may
// exist on the machine, so every lab id, /30 subnet and veth name is reserved with an exclusive
// file under /run/hvtune-lab/ and checked against what the machine already uses.

import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

export const STATE_DIR = '/run/hvtune-lab';
export const LABS_DIR = `${STATE_DIR}/labs`;
export const SUBNETS_DIR = `${STATE_DIR}/subnets`;
export const WORK_ROOT = '/tmp/hvtune-lab';

/** 10.200.0.0/16 cut into /30 blocks: one block per host. */
const SUBNET_COUNT = 16384;

export interface Subnet {
  index: number;
  /** "10.200.7.4/30" */
  cidr: string;
  /** Root-namespace end of the veth pair. */
  rootAddress: string;
  /** Host end (eth0 inside the host). */
  hostAddress: string;
  /** Root-namespace veth name, at most 15 characters. */
  veth: string;
}

export function subnetOf(index: number): Subnet {
  const third = index >> 6;
  const base = (index & 63) * 4;
  const prefix = `10.200.${third}.`;
  return {
    index,
    cidr: `${prefix}${base}/30`,
    rootAddress: `${prefix}${base + 1}`,
    hostAddress: `${prefix}${base + 2}`,
    veth: `hvt${index}`,
  };
}

function exclusiveCreate(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  writeSync(fd, content);
  closeSync(fd);
  return true;
}

function ensureStateDirs(): void {
  mkdirSync(LABS_DIR, { recursive: true });
  mkdirSync(SUBNETS_DIR, { recursive: true });
  mkdirSync(WORK_ROOT, { recursive: true });
}

let labCounter = 0;

function netnsTaken(prefix: string): boolean {
  try {
    return readdirSync('/run/netns').some((name) => name.startsWith(prefix));
  } catch {
    return false; // no namespaces at all yet
  }
}

/**
 * Reserve a lab id unique on this machine: the marker file LABS_DIR/<id> is created exclusively
 * (its content is replaced by the full marker right after). The id carries the process and the
 * vitest worker so a person reading `ip netns list` sees whose lab it is.
 */
export function reserveLabId(tag?: string): string {
  ensureStateDirs();
  if (tag !== undefined && !/^[a-z0-9]{1,12}$/i.test(tag)) {
    throw new Error(`lab tag must be 1-12 letters or digits, got ${JSON.stringify(tag)}`);
  }
  const worker = process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? '0';
  for (;;) {
    const id = `${tag ? tag + '-' : ''}${process.pid}w${worker}n${labCounter++}`;
    if (netnsTaken(netnsName(id, ''))) continue; // a namespace left by an earlier process with this PID
    if (exclusiveCreate(`${LABS_DIR}/${id}`, `owner ${process.pid}\n`)) return id;
  }
}

function parseIPv4(text: string): number {
  const parts = text.split('.').map(Number);
  while (parts.length < 4) parts.push(0);
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

interface Prefix {
  network: number;
  length: number;
}

function parsePrefix(text: string): Prefix | null {
  const m = /^(\d+(?:\.\d+){0,3})(?:\/(\d+))?$/.exec(text);
  if (!m) return null;
  return { network: parseIPv4(m[1]), length: m[2] === undefined ? 32 : Number(m[2]) };
}

function overlaps(a: Prefix, b: Prefix): boolean {
  const len = Math.min(a.length, b.length);
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return (a.network & mask) >>> 0 === (b.network & mask) >>> 0;
}

const ROUTE_TYPES = new Set(['unicast', 'unreachable', 'blackhole', 'prohibit', 'throw', 'local', 'broadcast', 'multicast']);

/**
 * Prefixes within 10.200.0.0/16 that the root namespace already routes or has addresses in.
 * Broader routes (a default route, 10.0.0.0/8) do not matter: a /30 is more specific.
 */
function prefixesInUse(): Prefix[] {
  const lab = parsePrefix('10.200.0.0/16')!;
  const found: Prefix[] = [];
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (const line of routes.split('\n')) {
    const words = line.trim().split(/\s+/);
    const word = ROUTE_TYPES.has(words[0]) ? words[1] : words[0];
    const p = word ? parsePrefix(word) : null;
    if (p && p.length >= 16 && overlaps(p, lab)) found.push(p);
  }
  const addrs = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  for (const m of addrs.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/g)) {
    const p = { network: parseIPv4(m[1]), length: 32 };
    if (overlaps(p, lab)) found.push(p);
  }
  return found;
}

function subnetFree(s: Subnet, inUse: Prefix[]): boolean {
  const mine = parsePrefix(s.cidr)!;
  return !existsSync(`/sys/class/net/${s.veth}`) && !inUse.some((p) => overlaps(p, mine));
}

/** Deterministic start so that concurrent labs probe from different places. */
function startIndex(labId: string): number {
  let h = 2166136261;
  for (const c of labId) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h % SUBNET_COUNT;
}

/** Reserve `count` free subnets for a lab: lock file SUBNETS_DIR/<index> holds the lab id. */
export function allocateSubnets(labId: string, count: number): Subnet[] {
  ensureStateDirs();
  const inUse = prefixesInUse();
  const taken: Subnet[] = [];
  const start = startIndex(labId);
  for (let i = 0; i < SUBNET_COUNT && taken.length < count; i++) {
    const s = subnetOf((start + i) % SUBNET_COUNT);
    if (!subnetFree(s, inUse)) continue;
    if (exclusiveCreate(`${SUBNETS_DIR}/${s.index}`, `${labId}\n`)) taken.push(s);
  }
  if (taken.length < count) {
    for (const s of taken) releaseSubnet(labId, s.index);
    throw new Error(`no free /30 subnet left in 10.200.0.0/16 (run scripts/lab-clean to sweep stale labs)`);
  }
  return taken;
}

/** Remove a subnet lock, only if it is this lab's. */
export function releaseSubnet(labId: string, index: number): void {
  const path = `${SUBNETS_DIR}/${index}`;
  try {
    if (readFileSync(path, 'utf8').trim() === labId) unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Netns name of one host: unique because the lab id is. */
export function netnsName(labId: string, hostName: string): string {
  return `hvt-${labId}-${hostName}`;
}
