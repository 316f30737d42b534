// CPU lists in the kernel's range form ("0-3,8,10-11"), as sysfs prints them and as libvirt's
// cpuset attributes take them. Parsing is strict: a bad list is an error, never a guess.

/** Parse "0-3,8,10-11" (spaces and empty items tolerated) into sorted unique CPU numbers. */
export function parseCpuList(text: string): number[] {
  const out = new Set<number>();
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (!m) throw new Error(`not a CPU list: ${JSON.stringify(text)} (expected items like 3 or 0-7, comma-separated)`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`not a CPU list: ${JSON.stringify(text)} (range ${item} runs backwards)`);
    if (hi - lo > 65_536) throw new Error(`not a CPU list: ${JSON.stringify(text)} (range ${item} is too large)`);
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/** Lenient variant for host files: junk gives [] instead of an error. */
export function parseCpuListOrEmpty(text: string | undefined | null): number[] {
  if (text == null) return [];
  try {
    return parseCpuList(text);
  } catch {
    return [];
  }
}

/** Sorted unique CPUs in range form: [1,2,3,5] → "1-3,5"; a pair stays a range ("8-9"). */
export function formatCpuList(cpus: Iterable<number>): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
