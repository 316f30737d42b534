// Memory facts: /proc/meminfo totals, hugepage pools (/sys/kernel/mm/hugepages), transparent
// hugepages and KSM. Values are numbers or null — null means "not known", never 0.

import type { HugepagePool, MemoryFacts } from './types.js';
import { type RawFacts, fileText, matchFiles, toInt } from './sections.js';

const POOL_RE = /^\/sys\/kernel\/mm\/hugepages\/hugepages-(\d+)kB\/(nr|free|resv|surplus)_hugepages$/;
const THP = '/sys/kernel/mm/transparent_hugepage';

/** "always [madvise] never" → { selected: 'madvise', choices: [...] }; no brackets → null. */
export function parseBracketChoice(text: string | undefined): { selected: string | null; choices: string[] } | null {
  if (text === undefined) return null;
  const words = text.trim().split(/\s+/).filter(Boolean);
  const picked = words.find((w) => /^\[.+\]$/.test(w));
  return { selected: picked ? picked.slice(1, -1) : null, choices: words.map((w) => w.replace(/^\[|\]$/g, '')) };
}

export function parseMeminfoLines(lines: readonly string[]): Map<string, number> {
  const kv = new Map<string, number>();
  for (const line of lines) {
    const m = /^([A-Za-z_()0-9]+):\s+(\d+)(?:\s*kB)?\s*$/.exec(line.trim());
    if (m) kv.set(m[1], Number(m[2]));
  }
  return kv;
}

export function parseHugepagePools(raw: RawFacts): HugepagePool[] {
  const pools = new Map<number, HugepagePool>();
  for (const { m, lines } of matchFiles(raw, POOL_RE)) {
    const size = Number(m[1]);
    const pool = pools.get(size) ?? pools.set(size, { sizeKiB: size, total: 0, free: null, reserved: null, surplus: null }).get(size)!;
    const value = toInt(lines[0]);
    if (m[2] === 'nr') pool.total = value ?? 0;
    else if (m[2] === 'free') pool.free = value;
    else if (m[2] === 'resv') pool.reserved = value;
    else pool.surplus = value;
  }
  return [...pools.values()].sort((a, b) => a.sizeKiB - b.sizeKiB);
}

export function parseMemory(raw: RawFacts): MemoryFacts {
  const meminfo = parseMeminfoLines(raw.files.get('/proc/meminfo') ?? []);
  const enabled = parseBracketChoice(fileText(raw, `${THP}/enabled`));
  const defrag = parseBracketChoice(fileText(raw, `${THP}/defrag`));
  return {
    totalKiB: meminfo.get('MemTotal') ?? null,
    freeKiB: meminfo.get('MemFree') ?? null,
    availableKiB: meminfo.get('MemAvailable') ?? null,
    hugepages: { defaultSizeKiB: meminfo.get('Hugepagesize') ?? null, pools: parseHugepagePools(raw) },
    thp:
      enabled || defrag
        ? {
            enabled: enabled?.selected ?? null,
            defrag: defrag?.selected ?? null,
            enabledChoices: enabled?.choices ?? [],
            defragChoices: defrag?.choices ?? [],
          }
        : null,
    ksmRun: toInt(fileText(raw, '/sys/kernel/mm/ksm/run')),
  };
}
