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

/**
 * The facts gatherer: one POSIX sh script whose output is `key=value` lines (multi-line values
 * are base64). The full gatherer (topology, NICs, roles) extends FACTS_SCRIPT and parseFacts.
 */
export const FACTS_SCRIPT = [
  'printf "hostname=%s\\n" "$(cat /proc/sys/kernel/hostname)"',
  'printf "kernel=%s\\n" "$(uname -r)"',
].join('\n');

export function parseFacts(stdout: string): Facts {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  const release = kv.get('kernel') ?? '';
  return {
    hostname: kv.get('hostname') ?? '',
    kernel: { release, version: parseKernelVersion(release) },
  };
}
