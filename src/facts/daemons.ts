// Daemons that move a host's threads, memory or interrupts on their own (numad, tuned,
// irqbalance): a static placement from a playbook competes with them. Read from the names of the
// running processes (/proc/PID/comm) and tuned's active profile with its isolated cores.

import { parseCpuList } from './cpulist.js';
import { TUNED_VARIABLES_FILES, WATCHED_DAEMONS } from './script.js';
import { fileText, type RawFacts, sectionLines } from './sections.js';
import type { DaemonFacts } from './types.js';

export function parseDaemons(raw: RawFacts): DaemonFacts | undefined {
  const lines = sectionLines(raw, 'daemons');
  if (lines === undefined) return undefined;
  const seen = new Set(lines.map((l) => l.trim().split(':').pop() ?? ''));
  const running = WATCHED_DAEMONS.filter((d) => seen.has(d));
  const profile = fileText(raw, '/etc/tuned/active_profile') || null;
  return { running, tuned: { profile, isolatedCores: isolatedCores(raw, profile) } };
}

/** `isolated_cores=1-9,11-19` of the profile's variables file; null when absent or computed (`${f:…}`). */
function isolatedCores(raw: RawFacts, profile: string | null): number[] | null {
  const file = profile ? TUNED_VARIABLES_FILES[profile] : undefined;
  const line = file ? raw.files.get(file)?.find((l) => /^\s*isolated_cores\s*=/.test(l)) : undefined;
  if (!line) return null;
  const value = line.slice(line.indexOf('=') + 1).trim();
  if (!/^[0-9,\s-]+$/.test(value)) return null;
  try {
    return parseCpuList(value.replace(/\s+/g, ''));
  } catch {
    return null;
  }
}
