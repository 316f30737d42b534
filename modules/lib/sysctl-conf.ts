// Pure helpers for sysctl keys, values and sysctl.d files.

/** `net.ipv4.conf.eth0/100.rp_filter` → `/proc/sys/net/ipv4/conf/eth0.100/rp_filter` (procps rule: `/` in a dotted key stands for a dot in a name). */
export function keyToProcPath(key: string): string {
  return (
    '/proc/sys/' +
    key
      .split('.')
      .map((seg) => seg.replace(/\//g, '.'))
      .join('/')
  );
}

/**
 * Normalise a sysctl value for comparison: whitespace runs fold to one space; an all-integer
 * value compares as integers (`04096` equals `4096`), so `4096 87380 33554432` equals
 * `4096\t87380\t33554432`.
 */
export function normaliseSysctlValue(value: string | number | readonly (string | number)[]): string {
  const text = Array.isArray(value) ? value.join(' ') : String(value);
  const words = text
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length > 0 && words.every((w) => /^[+-]?\d+$/.test(w))) {
    return words.map((w) => BigInt(w).toString()).join(' ');
  }
  return words.join(' ');
}

export interface ConfLine {
  key: string;
  value: string;
  /** 0-based line index in the file */
  line: number;
  /** `-key = value`: errors on this key are ignored by systemd-sysctl */
  ignoreErrors: boolean;
}

/** Parse a sysctl.conf / sysctl.d file (comments `#` and `;`, `key = value`, `-key=value`). */
export function parseSysctlConf(text: string): ConfLine[] {
  const out: ConfLine[] = [];
  text.split('\n').forEach((raw, line) => {
    const s = raw.trim();
    if (s === '' || s.startsWith('#') || s.startsWith(';')) return;
    const eq = s.indexOf('=');
    if (eq < 0) return;
    let key = s.slice(0, eq).trim();
    const ignoreErrors = key.startsWith('-');
    if (ignoreErrors) key = key.slice(1).trim();
    out.push({ key: canonicalKey(key), value: s.slice(eq + 1).trim(), line, ignoreErrors });
  });
  return out;
}

/** `net/ipv4/tcp_rmem` and `net.ipv4.tcp_rmem` name the same key (procps: the first separator decides the form). */
export function canonicalKey(key: string): string {
  const k = key.replace(/^\/+/, '');
  const slash = k.indexOf('/');
  const dot = k.indexOf('.');
  if (slash < 0 || (dot >= 0 && dot < slash)) return k;
  return k
    .split('/')
    .map((seg) => seg.replace(/\./g, '/'))
    .join('.');
}

/**
 * Set keys in a sysctl.d file, keeping every other line, comment and order: the first line of a
 * key is rewritten in place, later duplicates are removed, missing keys are appended.
 */
export function updateSysctlConf(
  text: string | null,
  values: ReadonlyMap<string, string>,
  header = '# Managed by hvtune: keys below are set by playbooks; other lines are kept.\n',
): string {
  const base = text ?? header;
  const lines = base.split('\n');
  const trailingNewline = base.endsWith('\n');
  if (trailingNewline) lines.pop();
  const seen = new Set<string>();
  const parsed = new Map(parseSysctlConf(base).map((l) => [l.line, l]));
  const out: string[] = [];
  lines.forEach((raw, i) => {
    const entry = parsed.get(i);
    if (!entry || !values.has(entry.key)) return void out.push(raw);
    if (seen.has(entry.key)) return; // a duplicate would make the file say two things
    seen.add(entry.key);
    const wanted = values.get(entry.key)!;
    out.push(
      normaliseSysctlValue(entry.value) === normaliseSysctlValue(wanted) ? raw : `${entry.ignoreErrors ? '-' : ''}${entry.key} = ${wanted}`,
    );
  });
  for (const [key, value] of values) if (!seen.has(key)) out.push(`${key} = ${value}`);
  return out.join('\n') + '\n';
}

/** Directories systemd-sysctl and `sysctl --system` read, highest precedence first for a same-named file. */
export const SYSCTL_DIRS = ['/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d'];

/**
 * The files applied at boot, in application order (later wins): sorted by file name, a name in an
 * earlier directory shadowing the same name in later ones; /etc/sysctl.conf last (procps).
 */
export function bootOrder(files: Record<string, string>): string[] {
  const byName = new Map<string, string>();
  for (const dir of [...SYSCTL_DIRS].reverse()) {
    for (const path of Object.keys(files)) {
      if (path.startsWith(dir + '/') && path.endsWith('.conf')) byName.set(path.slice(dir.length + 1), path);
    }
  }
  const ordered = [...byName.keys()].sort().map((n) => byName.get(n)!);
  if ('/etc/sysctl.conf' in files && !ordered.some((p) => isSymlinkToSysctlConf(p, files))) ordered.push('/etc/sysctl.conf');
  return ordered;
}

// Debian's /etc/sysctl.d/99-sysctl.conf is a symlink to ../sysctl.conf: same content, read once.
function isSymlinkToSysctlConf(path: string, files: Record<string, string>): boolean {
  return path.endsWith('/99-sysctl.conf') && files[path] === files['/etc/sysctl.conf'];
}

/** The value each key gets at boot and which file sets it. */
export function bootValues(files: Record<string, string>): Map<string, { value: string; file: string }> {
  const result = new Map<string, { value: string; file: string }>();
  for (const path of bootOrder(files)) {
    for (const l of parseSysctlConf(files[path])) result.set(l.key, { value: l.value, file: path });
  }
  return result;
}
