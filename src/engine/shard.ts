// `--shard K/N`: the K-th of N disjoint, stable slices of the selected hosts. A host's slice is a
// hash of its name alone, so it stays in its slice as the inventory grows or shrinks (only the new
// hosts land somewhere), and N controllers (a Kubernetes Indexed Job, a CI matrix) cover the fleet
// exactly once between them.

import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';

export interface Shard {
  /** 1-based */
  index: number;
  count: number;
}

export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : Number.NaN;
  const count = m ? Number(m[2]) : Number.NaN;
  if (!m || count < 1 || index < 1 || index > count || count > 100_000) {
    throw new InputError([{ path: '--shard', message: `expected K/N with 1 ≤ K ≤ N (such as 2/4), got ${JSON.stringify(text)}` }]);
  }
  return { index, count };
}

/** The slice (0-based) a host name falls in among `count`. */
export function shardOf(host: string, count: number): number {
  // the first 6 bytes of sha256: uniform, the same on every controller and Node version
  return createHash('sha256').update(host).digest().readUIntBE(0, 6) % count;
}

export function inShard(host: string, shard: Shard | undefined): boolean {
  return !shard || shardOf(host, shard.count) === shard.index - 1;
}
