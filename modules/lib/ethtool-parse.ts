// Parsers of what `ethtool -i/-g/-l/-k/-c/-n` and /sys/class/net print, and the normalisers that
// make desired and observed values comparable (feature names, rx-flow-hash letters, xps masks).
// ethtool prints n/a for what a driver does not support: that is kept as null, never as 0.

import { parseEthtoolBlocks } from '../../src/facts/nics.js';
import { formatCpuList, parseCpuList } from '../../src/facts/cpulist.js';

/** ethtool's short offload names (-K accepts them) → the long names `ethtool -k` prints. */
export const FEATURE_SHORT_NAMES: Record<string, string> = {
  rx: 'rx-checksumming',
  tx: 'tx-checksumming',
  sg: 'scatter-gather',
  tso: 'tcp-segmentation-offload',
  ufo: 'udp-fragmentation-offload',
  gso: 'generic-segmentation-offload',
  gro: 'generic-receive-offload',
  lro: 'large-receive-offload',
  rxvlan: 'rx-vlan-offload',
  txvlan: 'tx-vlan-offload',
  ntuple: 'ntuple-filters',
  rxhash: 'receive-hashing',
};
const LONG_TO_SHORT = new Map(Object.entries(FEATURE_SHORT_NAMES).map(([s, l]) => [l, s]));

/** `gro` → `generic-receive-offload`; long names and kernel feature names stay as they are. */
export function normaliseFeatureName(name: string): string {
  const n = name.trim().toLowerCase();
  return FEATURE_SHORT_NAMES[n] ?? n;
}

/** The name to give `ethtool -K`: the short one where ethtool has one, else the printed name. */
export function featureArgName(longName: string): string {
  return LONG_TO_SHORT.get(longName) ?? longName;
}

/** on/off/true/false/yes/no → 'on' | 'off'; anything else null. */
export function normaliseOnOff(value: unknown): 'on' | 'off' | null {
  if (value === true || value === 1) return 'on';
  if (value === false || value === 0) return 'off';
  const s = String(value).trim().toLowerCase();
  if (['on', 'true', 'yes'].includes(s)) return 'on';
  if (['off', 'false', 'no'].includes(s)) return 'off';
  return null;
}

/** `ethtool -i`: driver and bus-info (the PCI address for PCI and virtio NICs). */
export function parseDriverInfo(text: string): { driver: string | null; busInfo: string | null } {
  const field = (key: string) => {
    const m = new RegExp(`^${key}:[ \\t]*(\\S*)[ \\t]*$`, 'm').exec(text);
    return m && m[1] !== '' ? m[1] : null;
  };
  return { driver: field('driver'), busInfo: field('bus-info') };
}

export interface Limits {
  /** key (rx, rx-mini, rx-jumbo, tx / rx, tx, other, combined) → number, null for n/a */
  max: Record<string, number | null>;
  current: Record<string, number | null>;
}

/** `ethtool -g` or `ethtool -l`: pre-set maximums and current settings; null when neither block is there. */
export function parseLimits(text: string): Limits | null {
  const blocks = parseEthtoolBlocks(text.split('\n'));
  if (!blocks) return null;
  const toRecord = (m: Map<string, number | null>) => Object.fromEntries([...m].map(([k, v]) => [k.replace(/\s+/g, '-'), v]));
  return { max: toRecord(blocks.max), current: toRecord(blocks.current) };
}

export interface FeatureState {
  on: boolean;
  /** [fixed]: the driver does not let it change. */
  fixed: boolean;
}

/** `ethtool -k`: every feature line (indented sub-features too); "[requested on]" is ignored, the live state counts. */
export function parseFeatures(text: string): Record<string, FeatureState> {
  const out: Record<string, FeatureState> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z0-9][a-z0-9_-]*):\s+(on|off)(?:\s+\[(fixed|requested (?:on|off))\])?\s*$/.exec(line);
    if (m) out[m[1]] = { on: m[2] === 'on', fixed: m[3] === 'fixed' };
  }
  return out;
}

// `ethtool -c` prints some names differently from what `ethtool -C` takes.
const COALESCE_PRINTED: Record<string, string> = {
  'rx-frame-low': 'rx-frames-low',
  'tx-frame-low': 'tx-frames-low',
  'rx-frame-high': 'rx-frames-high',
  'tx-frame-high': 'tx-frames-high',
};

/** `ethtool -c` → -C parameter name → number or on/off; null = n/a (the driver does not support it). */
export function parseCoalesce(text: string): Record<string, number | 'on' | 'off' | null> {
  const out: Record<string, number | 'on' | 'off' | null> = {};
  const value = (v: string) => (/^\d+$/.test(v) ? Number(v) : v === 'on' || v === 'off' ? v : null);
  for (const line of text.split('\n')) {
    // "Adaptive RX: off  TX: off" and "CQE mode RX: n/a  TX: n/a" hold two values each.
    const pair = /^(Adaptive|CQE mode)\s+RX:\s*(\S+)\s+TX:\s*(\S+)\s*$/.exec(line.trim());
    if (pair) {
      const base = pair[1] === 'Adaptive' ? 'adaptive' : 'cqe-mode';
      out[`${base}-rx`] = value(pair[2]);
      out[`${base}-tx`] = value(pair[3]);
      continue;
    }
    const m = /^([a-z][a-z-]*):\s+(\S+)\s*$/.exec(line.trim());
    if (m) out[COALESCE_PRINTED[m[1]] ?? m[1]] = value(m[2]);
  }
  return out;
}

/** rx-flow-hash letters in ethtool's order; r (discard) stands alone. */
const HASH_FIELDS: [letter: string, printed: RegExp][] = [
  ['m', /^L2DA$/],
  ['v', /^VLAN tag$/],
  ['t', /^L3 proto$/],
  ['s', /^IP SA$/],
  ['d', /^IP DA$/],
  ['f', /^L4 bytes 0 & 1/],
  ['n', /^L4 bytes 2 & 3/],
];

/** "sdnf" and "sdfn" are the same hash: the letters as a set, in ethtool's order. Throws on other letters. */
export function normaliseFlowHash(letters: string): string {
  const set = new Set(letters.trim().split(''));
  if (set.has('r')) {
    if (set.size > 1) throw new Error(`rx-flow-hash ${JSON.stringify(letters)}: r (discard) cannot be combined with fields`);
    return 'r';
  }
  const bad = [...set].filter((c) => !HASH_FIELDS.some(([l]) => l === c));
  if (bad.length)
    throw new Error(`rx-flow-hash ${JSON.stringify(letters)}: unknown field letters ${bad.join('')} (expected m v t s d f n, or r)`);
  return HASH_FIELDS.map(([l]) => l)
    .filter((l) => set.has(l))
    .join('');
}

/** `ethtool -n IF rx-flow-hash FLOW` → normalised letters ('' = no field), or null when the text says nothing. */
export function parseFlowHash(text: string): string | null {
  const lines = text.split('\n').map((l) => l.trim());
  const head = lines.findIndex((l) => /flows use these fields for computing Hash flow key:$/.test(l));
  if (head < 0) return /flows? .*(Dropping|discard)/i.test(text) ? 'r' : null;
  let letters = '';
  for (const line of lines.slice(head + 1)) {
    if (line === 'None') break;
    const field = HASH_FIELDS.find(([, re]) => re.test(line));
    if (field) letters += field[0];
  }
  return normaliseFlowHash(letters);
}

/** CPU list "0-1,4" → the hex mask xps_cpus takes, in comma-separated 32-bit groups ("13"). */
export function cpuListToMask(list: string | number[]): string {
  const cpus = typeof list === 'string' ? parseCpuList(list) : list;
  let mask = 0n;
  for (const c of cpus) mask |= 1n << BigInt(c);
  const hex = mask.toString(16);
  const groups: string[] = [];
  for (let end = hex.length; end > 0; end -= 8) groups.unshift(hex.slice(Math.max(0, end - 8), end));
  return groups.map((g, i) => (i === 0 ? g : g.padStart(8, '0'))).join(',');
}

/** xps_cpus text ("00000000,00000003", "3", "0") → CPU list ("0-1", '' = none); null when not a mask. */
export function maskToCpuList(mask: string): string | null {
  const hex = mask.trim().replace(/,/g, '');
  if (!/^[0-9a-fA-F]+$/.test(hex)) return null;
  let value = BigInt(`0x${hex}`);
  const cpus: number[] = [];
  for (let cpu = 0; value > 0n; cpu++, value >>= 1n) if (value & 1n) cpus.push(cpu);
  return formatCpuList(cpus);
}

/** One read script's output: `@@hvtune NAME` opens a section, `@@hvtune-rc N` closes it with the exit status. */
export const SECTION = '@@hvtune';

export interface ScriptSection {
  text: string;
  code: number | null;
}

export function splitScriptOutput(stdout: string): Map<string, ScriptSection> {
  const out = new Map<string, ScriptSection>();
  let name: string | null = null;
  let lines: string[] = [];
  for (const line of stdout.replace(/\r\n/g, '\n').split('\n')) {
    const rc = /^@@hvtune-rc (\d+)$/.exec(line);
    if (rc && name !== null) {
      out.set(name, { text: lines.join('\n'), code: Number(rc[1]) });
      name = null;
    } else if (line.startsWith(`${SECTION} `)) {
      name = line.slice(SECTION.length + 1).trim();
      lines = [];
    } else if (name !== null) lines.push(line);
  }
  if (name !== null) out.set(name, { text: lines.join('\n'), code: null });
  return out;
}

/** The first error line of a failed ethtool command, for messages ("Operation not supported"). */
export function errorLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines.filter((l) => /not supported|error|cannot|invalid|no such/i.test(l)).pop();
  return (last ?? lines.pop() ?? 'failed').replace(/^netlink error:\s*/, '');
}
