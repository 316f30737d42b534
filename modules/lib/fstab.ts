// Mount tables: /etc/fstab (edited without touching other lines) and /proc/self/mountinfo (the
// live mounts), and the option normalisation that lets `pagesize=1G,gid=kvm` in a playbook equal
// `gid=107,pagesize=1024M` as the kernel shows it.

import { normaliseMode } from './mode.js';

export interface FstabEntry {
  /** First field: device, UUID=…, or a name for pseudo file systems (hugetlbfs, tmpfs). */
  src: string;
  path: string;
  fstype: string;
  opts: string;
  dump: number;
  passno: number;
}

export interface LiveMount {
  path: string;
  src: string;
  fstype: string;
  /** Per-mount flags (rw, relatime, noexec…) and the file system's own options, merged. */
  opts: string;
}

/** fstab and mountinfo write space, tab, newline and backslash as octal escapes. */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function escapeMountField(field: string): string {
  return field.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

/** "/dev/hugepages1G/" and "/dev/hugepages1G" name the same mount point. */
function samePath(a: string, b: string): boolean {
  const strip = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);
  return strip(a) === strip(b);
}

/** The entry of one fstab line, or null for comments, blank and malformed lines. */
export function parseFstabLine(line: string): FstabEntry | null {
  const text = line.replace(/\r$/, '');
  if (/^\s*(#|$)/.test(text)) return null;
  const f = text.trim().split(/\s+/);
  if (f.length < 3) return null;
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : 0);
  return {
    src: unescapeMountField(f[0]),
    path: unescapeMountField(f[1]),
    fstype: f[2],
    opts: f[3] ?? 'defaults',
    dump: num(f[4]),
    passno: num(f[5]),
  };
}

/** Indexes of the lines that mount something on `path`, in file order. */
export function fstabEntryLines(text: string, path: string): number[] {
  const out: number[] = [];
  text.split('\n').forEach((line, i) => {
    const e = parseFstabLine(line);
    if (e && samePath(e.path, path)) out.push(i);
  });
  return out;
}

/** The entry that decides `path` at boot: the last one, as mount(8) reads the file top down. */
export function findFstabEntry(text: string | null, path: string): FstabEntry | null {
  if (text === null) return null;
  const lines = fstabEntryLines(text, path);
  return lines.length ? parseFstabLine(text.split('\n')[lines[lines.length - 1]]) : null;
}

/**
 * Format an entry. With a template line (the entry being replaced, or the last entry of the file)
 * each field starts in the same column as in the template, so the table stays aligned; a field
 * too long for its column is followed by one space.
 */
export function formatFstabEntry(e: FstabEntry, template?: string): string {
  const fields = [escapeMountField(e.src), escapeMountField(e.path), e.fstype, e.opts, String(e.dump), String(e.passno)];
  const starts: number[] = [];
  if (template !== undefined && parseFstabLine(template)) {
    const re = /\S+/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(template)) !== null) starts.push(m.index);
  }
  const separator = template?.includes('\t') ? '\t' : ' ';
  if (separator === '\t' || starts.length < fields.length) return fields.join(separator);
  let out = '';
  fields.forEach((f, i) => {
    if (i > 0) out += ' '.repeat(Math.max(1, starts[i] - out.length));
    out += f;
  });
  return out;
}

/**
 * Put `entry` in an fstab text: the last line for its mount point is replaced (earlier duplicates
 * are left alone and reported by the module), or the line is appended. Every other byte stays.
 */
export function setFstabEntry(text: string | null, entry: FstabEntry): string {
  const source = text ?? '';
  const lines = source.split('\n');
  const matches = fstabEntryLines(source, entry.path);
  if (matches.length) {
    const i = matches[matches.length - 1];
    lines[i] = formatFstabEntry(entry, lines[i]);
    return lines.join('\n');
  }
  const last = [...lines].reverse().find((l) => parseFstabLine(l) !== null);
  const body = source === '' || source.endsWith('\n') ? source : source + '\n';
  return body + formatFstabEntry(entry, last) + '\n';
}

/** Remove every line that mounts something on `path`. */
export function removeFstabEntry(text: string, path: string): string {
  const drop = new Set(fstabEntryLines(text, path));
  return text
    .split('\n')
    .filter((_, i) => !drop.has(i))
    .join('\n');
}

/** Parse /proc/self/mountinfo; mount points outside the reader's root are not listed by the kernel. */
export function parseMountinfo(text: string): LiveMount[] {
  const out: LiveMount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0) continue;
    out.push({
      path: unescapeMountField(f[4]),
      src: unescapeMountField(f[sep + 2]),
      fstype: f[sep + 1],
      opts: [f[5], f[sep + 3]].filter(Boolean).join(','),
    });
  }
  return out;
}

/** The visible mount on `path`: the last one, since a later mount hides the earlier ones. */
export function findLiveMount(mounts: LiveMount[], path: string): LiveMount | null {
  for (let i = mounts.length - 1; i >= 0; i--) if (samePath(mounts[i].path, path)) return mounts[i];
  return null;
}

/** Names the kernel never shows: userspace and boot-time options, and defaults it leaves out. */
const NOT_SHOWN_LIVE = new Set([
  'defaults',
  'auto',
  'noauto',
  'user',
  'nouser',
  'users',
  'owner',
  'group',
  'nofail',
  '_netdev',
  'suid',
  'dev',
  'exec',
  'async',
  'loop',
]);

export interface OptionContext {
  /** group name → gid and user name → uid on the host, for `gid=kvm` against the kernel's `gid=107`. */
  groups?: Record<string, number>;
  users?: Record<string, number>;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** Normalise one option value so equal settings compare equal. */
export function normaliseOptionValue(key: string, value: string, ctx: OptionContext = {}): string {
  if (key === 'mode' && /^[0-7]{1,4}$/.test(value)) return normaliseMode(value);
  if (key === 'gid' && ctx.groups && value in ctx.groups) return String(ctx.groups[value]);
  if (key === 'uid' && ctx.users && value in ctx.users) return String(ctx.users[value]);
  const size = /^(\d+)([kmgtp]?)$/i.exec(value);
  if (size && /size|nr_inodes|nr_blocks/.test(key)) {
    return String(BigInt(size[1]) * BigInt(SIZE_UNITS[size[2].toLowerCase()]));
  }
  return value;
}

/** Options as a map name → normalised value (null for flags), later duplicates winning. */
export function parseMountOptions(opts: string, ctx: OptionContext = {}): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const item of opts.split(',')) {
    if (item === '' || item === 'defaults') continue;
    const i = item.indexOf('=');
    if (i < 0) out.set(item, null);
    else out.set(item.slice(0, i), normaliseOptionValue(item.slice(0, i), item.slice(i + 1), ctx));
  }
  return out;
}

/** Equal as sets with values: order, `defaults` and spellings of the same value do not matter. */
export function sameMountOptions(a: string, b: string, ctx: OptionContext = {}): boolean {
  const x = parseMountOptions(a, ctx);
  const y = parseMountOptions(b, ctx);
  if (x.size !== y.size) return false;
  for (const [k, v] of x) if (!y.has(k) || y.get(k) !== v) return false;
  return true;
}

/**
 * Desired options (as the playbook wrote them) that the live mount does not have, ignoring options
 * the kernel never shows. The live mount may show more (rw, relatime, its defaults): that is fine.
 */
export function missingLiveOptions(desired: string, live: string, ctx: OptionContext = {}): string[] {
  const want = parseMountOptions(desired, ctx);
  const have = parseMountOptions(live, ctx);
  const out: string[] = [];
  for (const item of desired.split(',')) {
    const k = item.split('=')[0];
    if (!want.has(k) || NOT_SHOWN_LIVE.has(k) || k.startsWith('x-') || k === 'comment') continue;
    const v = want.get(k)!;
    // percentages (tmpfs size=50%) are turned into bytes by the kernel: not comparable
    if (v?.endsWith('%')) continue;
    if (!have.has(k) || have.get(k) !== v) out.push(item);
  }
  return out;
}
