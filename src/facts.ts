// Facts gathered from a host in one round trip. Templates and modules read them.

export interface Facts {
  hostname: string;
  kernel: { release: string; version: [number, number, number] };
  /** Extended by the facts gatherer; modules must tolerate absent optional parts. */
  [key: string]: unknown;
}

/** Parse "6.1.0-18-amd64" → [6, 1, 0]. */
export function parseKernelVersion(release: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
}

export function kernelAtLeast(facts: Facts, major: number, minor: number): boolean {
  const [a, b] = facts.kernel.version;
  return a > major || (a === major && b >= minor);
}
