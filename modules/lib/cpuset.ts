// libvirt cpuset attributes ("1-3,5", "0-7,^4") as sets of CPU numbers. Two spellings of the same
// set ("1,2,3" and "1-3") must compare equal, or every run would report a change.

import { formatCpuList, parseCpuList } from '../../src/facts/cpulist.js';

/** Strict: the syntax libvirt accepts (items N or N-M, exclusions ^N / ^N-M), else an Error. */
export function parseCpuset(text: string): number[] {
  const include: string[] = [];
  const exclude: string[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item.startsWith('^')) exclude.push(item.slice(1));
    else include.push(item);
  }
  const wanted = parseCpuList(include.join(','));
  if (wanted.length === 0) throw new Error(`not a cpuset: ${JSON.stringify(text)} (it selects no CPU)`);
  const dropped = new Set(parseCpuList(exclude.join(',')));
  const cpus = wanted.filter((c) => !dropped.has(c));
  if (cpus.length === 0) throw new Error(`not a cpuset: ${JSON.stringify(text)} (its exclusions remove every CPU)`);
  return cpus;
}

/** Canonical text of a cpuset: "3,1,2" → "1-3", "0-4,^2" → "0-1,3-4". */
export function normaliseCpuset(text: string): string {
  return formatCpuList(parseCpuset(text));
}

/** Like normaliseCpuset, but keeps unparsable text as it is (for values read from a host). */
export function normaliseCpusetLenient(text: string): string {
  try {
    return normaliseCpuset(text);
  } catch {
    return text.trim();
  }
}

/** CPUs of `cpuset` that are not in `available` (both cpuset texts), in range form; '' = none. */
export function cpusMissing(cpuset: string, available: string): string {
  const have = new Set(parseCpuset(available));
  return formatCpuList(parseCpuset(cpuset).filter((c) => !have.has(c)));
}

export { formatCpuList };
