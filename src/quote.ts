// One POSIX single-quote quoter for everything that reaches a remote shell. Targets may run dash,
// so no bash-only $'…'.

/** Quote one word for a POSIX shell. */
export function quote(word: string | number): string {
  const s = String(word);
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return "'" + s.replace(/'/g, `'\\''`) + "'";
}

/** Join argv into one shell command line, every word quoted. */
export function joinArgv(argv: readonly (string | number)[]): string {
  return argv.map(quote).join(' ');
}

/** A raw piece of shell that `sh` inserts without quoting (only for constants built in code). */
export class RawShell {
  constructor(readonly text: string) {}
}
export const raw = (text: string): RawShell => new RawShell(text);

/**
 * Tagged template: sh`sysctl -w ${key}=${value}` quotes every interpolation; arrays become
 * quoted words separated by spaces; raw() passes constant shell through.
 */
export function sh(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0];
  values.forEach((v, i) => {
    if (v instanceof RawShell) out += v.text;
    else if (Array.isArray(v)) out += v.map((w) => quote(String(w))).join(' ');
    else out += quote(String(v));
    out += strings[i + 1];
  });
  return out;
}
