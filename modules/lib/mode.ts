// File permission modes: one canonical form ("0644", "1770") so that what a playbook says, what
// `stat -c %a` prints and what the kernel shows in mount options compare equal.

/** The largest mode chmod takes: setuid, setgid, sticky and rwx for user, group, other. */
const MAX_MODE = 0o7777;

/**
 * Integer modes at or above this have special bits (setuid/setgid/sticky). YAML 1.2 reads an
 * unquoted `0644` as the decimal 644 (= octal 1204), so an integer this large is almost always
 * an octal mode written without quotes; we refuse it instead of setting the sticky bit.
 */
const FIRST_SPECIAL_BIT = 0o1000;

/** Canonical text of a numeric mode: at least four octal digits ("0644"). */
export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/** Why a mode argument is unusable, or null when it is fine. */
export function modeProblem(input: string | number): string | null {
  if (typeof input === 'number') {
    if (!Number.isInteger(input) || input < 0 || input > MAX_MODE) {
      return `mode ${input} is not a file mode; write it as a quoted octal string such as "0644"`;
    }
    if (input >= FIRST_SPECIAL_BIT) {
      return (
        `mode ${input} is read by YAML as a decimal number (octal ${formatMode(input)}); ` +
        `write it quoted, for example mode: "0${String(input).replace(/^0+/, '')}"`
      );
    }
    return null;
  }
  if (/^[0-7]{1,4}$/.test(input.trim())) return null;
  try {
    applySymbolicMode(input, 0, false);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Normalise a mode to "0644" form.
 * - numbers are the mode's integer value (420 → "0644"), as chmod(2) takes them;
 * - strings of octal digits are octal ("644", "0644", "1770");
 * - symbolic modes (`u=rw,go=r`, `a+x`, `g-w`) apply to `current` (0 when unknown), and
 *   `X` sets execute only for directories or when some execute bit is already set.
 */
export function normaliseMode(input: string | number, current = 0, isDirectory = false): string {
  const problem = typeof input === 'number' ? modeProblem(input) : null;
  if (problem) throw new Error(problem);
  if (typeof input === 'number') return formatMode(input);
  const text = input.trim();
  if (/^[0-7]{1,4}$/.test(text)) return formatMode(parseInt(text, 8));
  return formatMode(applySymbolicMode(text, current, isDirectory));
}

/** True when a mode uses +/- and so depends on the file's current mode. */
export function isRelativeMode(input: string | number): boolean {
  return typeof input === 'string' && /[+-]/.test(input);
}

const WHO_BITS: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007 };

function applySymbolicMode(text: string, current: number, isDirectory: boolean): number {
  let mode = current & MAX_MODE;
  for (const clause of text.split(',')) {
    const m = /^([ugoa]*)([-+=])([rwxXst]*)$/.exec(clause.trim());
    if (!m) {
      throw new Error(`mode "${text}" is neither octal ("0644") nor symbolic ("u=rw,go=r"): cannot read "${clause}"`);
    }
    const [, whoText, op, permText] = m;
    const who = whoText === '' || whoText.includes('a') ? 'ugo' : whoText;
    const anyExecute = isDirectory || (mode & 0o111) !== 0;
    let bits = 0;
    for (const w of who) {
      const mask = WHO_BITS[w];
      for (const p of permText) {
        if (p === 'r') bits |= mask & 0o444;
        else if (p === 'w') bits |= mask & 0o222;
        else if (p === 'x' || (p === 'X' && anyExecute)) bits |= mask & 0o111;
        else if (p === 's') bits |= mask & 0o6000;
        else if (p === 't' && w === 'o') bits |= 0o1000;
      }
    }
    if (op === '+') mode |= bits;
    else if (op === '-') mode &= ~bits;
    else {
      let clear = 0;
      for (const w of who) clear |= WHO_BITS[w];
      // GNU chmod: `=` clears a file's setuid/setgid/sticky bits, but keeps a directory's.
      const keep = isDirectory ? 0o7000 : 0;
      mode = (mode & ~(clear & ~keep)) | bits;
    }
  }
  return mode & MAX_MODE;
}
