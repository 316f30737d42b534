// sysfs values: the bracketed-choice format (`always [madvise] never`: the choices offered, the
// selected one in brackets), plain values, and the persistence files that set them at boot.

/** A sysfs value as compared: trimmed, inner whitespace collapsed. */
export function normaliseSysfsValue(value: string | number): string {
  return String(value).trim().replace(/\s+/g, ' ');
}

/**
 * `always [madvise] never` → { value: 'madvise', choices: [always, madvise, never] }.
 * A plain value (`never`, `4096`; also a shadow file that was written) → { value, choices: null }.
 */
export function parseChoices(text: string): { value: string; choices: string[] | null } {
  const words = normaliseSysfsValue(text).split(' ').filter(Boolean);
  const selected = words.filter((w) => /^\[[^\]]+\]$/.test(w));
  if (words.length > 1 && selected.length === 1) {
    const choices = words.map((w) => w.replace(/^\[(.*)\]$/, '$1'));
    return { value: selected[0].slice(1, -1), choices };
  }
  return { value: normaliseSysfsValue(text), choices: null };
}

/** Single-queue I/O schedulers removed in Linux 5.0, and their blk-mq successors. */
export const DATED_SCHEDULERS: Record<string, string> = { noop: 'none', deadline: 'mq-deadline', cfq: 'bfq', anticipatory: 'mq-deadline' };

export function datedSchedulerWarning(attribute: string, value: string): string | null {
  if (!attribute.endsWith('scheduler') || !(value in DATED_SCHEDULERS)) return null;
  return `the ${value} I/O scheduler was removed in Linux 5.0 (blk-mq); its modern counterpart is ${DATED_SCHEDULERS[value]}`;
}

/** First words of a file hvtune owns. */
export const MANAGED_SYSFS = '# Managed by hvtune (sysfs)';

/**
 * Set (value) or remove (null) the systemd-tmpfiles `w` line for `path` in a shared file; every
 * other line is kept. Returns null when nothing but hvtune's header would remain.
 */
export function editTmpfiles(content: string | null, path: string, value: string | null): string | null {
  const lines = content === null ? [] : content.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const isOurs = (l: string) => {
    const [type, p] = l.trim().split(/\s+/);
    return (type === 'w' || type === 'w+') && p === path;
  };
  const line = value === null ? null : `w ${path} - - - - ${value}`;
  const existing = lines.filter(isOurs);
  if (existing.length === 1 && line !== null && normaliseSysfsValue(existing[0]) === line) return content;
  const first = lines.findIndex(isOurs);
  let out = lines.flatMap((l, i) => (i === first && line !== null ? [line] : isOurs(l) ? [] : [l]));
  if (first === -1 && line !== null) out.push(line);
  if (content === null && out.length) out = [`${MANAGED_SYSFS}: sysfs values written at boot by systemd-tmpfiles`, ...out];
  if (content !== null && out.join('\n') === lines.join('\n')) return content;
  if (!out.some((l) => l.trim() && !l.trim().startsWith('#'))) return null;
  return out.join('\n') + '\n';
}

/** The `w` value for `path` in a tmpfiles file, or null. */
export function tmpfilesValue(content: string | null, path: string): string | null {
  for (const l of (content ?? '').split('\n')) {
    const m = /^\s*w\+?\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(.*)$/.exec(l);
    if (m && m[1] === path) return normaliseSysfsValue(m[2]);
  }
  return null;
}

/** A udev rule that sets block-device attributes when a matching whole disk appears or changes. */
export function udevBlockRule(match: string, attributes: Record<string, string>): string {
  const attrs = Object.entries(attributes)
    .map(([k, v]) => `ATTR{${k}}="${v}"`)
    .join(', ');
  return (
    `${MANAGED_SYSFS}: block devices ${match}\n` +
    `ACTION=="add|change", SUBSYSTEM=="block", ENV{DEVTYPE}=="disk", KERNEL=="${match}", ${attrs}\n`
  );
}

/** `sd*` → `sd-any`: a file-name-safe form of a udev KERNEL match. */
export function matchSlug(match: string): string {
  return match
    .replace(/\*/g, '-any')
    .replace(/\?/g, '-one')
    .replace(/\|/g, '-or-')
    .replace(/[^A-Za-z0-9_-]/g, '_');
}
