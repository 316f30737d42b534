// The kernel command line as a set, and the GRUB defaults files that persist it.
// The kernel splits arguments on whitespace outside double quotes, treats `-` and `_` in a
// parameter name as the same character, and lets the last occurrence of a key win.

import { shellAssignments } from './grub-shell.js';

/** Stands for a `$VAR` / `${VAR}` self-reference inside a GRUB assignment (grub.d files append). */
export const SELF_REF = '\u0000';

/** Split a kernel command line into arguments; what follows ` -- ` belongs to init and is dropped. */
export function splitCmdline(text: string): string[] {
  const args: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && /\s/.test(ch)) {
      if (current) args.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  if (current) args.push(current);
  const end = args.indexOf('--');
  return end === -1 ? args : args.slice(0, end);
}

/** Parameter name as the kernel compares it: `-` equals `_`. */
export function argKey(arg: string): string {
  const i = arg.indexOf('=');
  return (i === -1 ? arg : arg.slice(0, i)).replace(/-/g, '_');
}

/** Value of `key=value` without the kernel's double quotes; null for a bare flag. */
export function argValue(arg: string): string | null {
  const i = arg.indexOf('=');
  return i === -1 ? null : arg.slice(i + 1).replace(/^"(.*)"$/s, '$1');
}

/** The effective set: normalised key → value (null for a flag); the last occurrence wins. */
export function cmdlineSet(args: readonly string[]): Map<string, string | null> {
  const set = new Map<string, string | null>();
  for (const arg of args) if (arg !== SELF_REF) set.set(argKey(arg), argValue(arg));
  return set;
}

/** Does the effective set hold `arg` (`key=value` with that value, or the bare flag)? */
export function setHas(set: Map<string, string | null>, arg: string): boolean {
  const key = argKey(arg);
  return set.has(key) && set.get(key) === argValue(arg);
}

/** Does `spec` of an `absent` list (`key` = any value, `key=value` = only that value) match `arg`? */
export function absentMatches(spec: string, arg: string): boolean {
  if (arg === SELF_REF || argKey(spec) !== argKey(arg)) return false;
  return !spec.includes('=') || argValue(spec) === argValue(arg);
}

/** Is `spec` (an `absent` entry) still in the effective set? */
export function setHasAbsent(set: Map<string, string | null>, spec: string): boolean {
  const key = argKey(spec);
  return set.has(key) && (!spec.includes('=') || set.get(key) === argValue(spec));
}

// Arguments that turn off CPU vulnerability mitigations: faster, and less safe.
const SECURITY: Record<string, string> = {
  mitigations: 'off',
  nopti: '',
  pti: 'off',
  kpti: '0',
  nospectre_v1: '',
  nospectre_v2: '',
  spectre_v2: 'off',
  spectre_v2_user: 'off',
  spectre_bhi: 'off',
  nospec_store_bypass_disable: '',
  spec_store_bypass_disable: 'off',
  no_stf_barrier: '',
  mds: 'off',
  tsx_async_abort: 'off',
  l1tf: 'off',
  mmio_stale_data: 'off',
  retbleed: 'off',
  srbds: 'off',
  gather_data_sampling: 'off',
  reg_file_data_sampling: 'off',
  spec_rstack_overflow: 'off',
  noibrs: '',
  noibpb: '',
  tsx: 'on',
};

/** A warning when `arg` trades security for speed, else null. */
export function securityWarning(arg: string): string | null {
  const key = argKey(arg);
  if (!(key in SECURITY)) return null;
  const value = argValue(arg);
  const risky = SECURITY[key] === '' ? value === null : value === SECURITY[key];
  return risky
    ? `${arg} turns off protection against CPU vulnerabilities (Spectre/Meltdown family): faster, ` +
        'but a guest or process may read memory it should not; use it only on hosts whose tenants trust each other'
    : null;
}

/** A warning when `arg` is dated advice (see seeds/README.md), else null. */
export function datedWarning(arg: string, kernel: [number, number, number]): string | null {
  const key = argKey(arg);
  const value = argValue(arg) ?? '';
  if (key === 'elevator' && kernel[0] >= 5) {
    return `${arg} does nothing since Linux 5.0 (blk-mq schedulers only); set the I/O scheduler with the sysfs module (block: …, persisted by a udev rule)`;
  }
  if ((key === 'hugepagesz' || key === 'default_hugepagesz') && /^\d+[KMG]B$/i.test(value)) {
    return `${arg}: write the size as ${key}=${value.slice(0, -1)} (the kernel's documented form)`;
  }
  if (key === 'noibrs' || key === 'noibpb') {
    return `${arg} was a Red Hat 7 kernel option; upstream kernels ignore it (mitigations=off covers it)`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// GRUB defaults files: `VAR="..."` shell assignments, edited in place so every other byte survives.

export interface GrubAssignment {
  file: string;
  /** 1-based line of the assignment, for messages. */
  line: number;
  /** Span of the value's source text in the file (after `=`). */
  start: number;
  end: number;
  /** The value's quoting, kept when rewriting. */
  quote: '"' | "'" | '';
  /** Kernel arguments; SELF_REF stands for the variable's previous value. */
  args: string[];
}

/**
 * Every assignment of `variable` a shell runs in one file, in order (see grub-shell.ts). Throws
 * (with file:line) on shell the module cannot evaluate: other variables, command substitution,
 * mixed quoting, assignments that run only sometimes.
 */
export function findAssignments(file: string, text: string, variable: string): GrubAssignment[] {
  return shellAssignments(file, text, variable).map(({ start, end: wordEnd, line }) => {
    const where = `${file}:${line}`;
    if (text.startsWith('\\\n', start))
      throw new Error(`${where}: ${variable} continues on the next line right after =; start its value on the same line`);
    const { decoded, end, quote } = readShellWord(text, start, variable, where);
    if (end !== wordEnd) throw new Error(`${where}: ${variable} has a value hvtune cannot parse; edit it by hand`);
    if (quote === "'" && decoded.includes('\\\n'))
      throw new Error(`${where}: ${variable} has a backslash-newline inside single quotes, which the shell keeps as is; edit it by hand`);
    const args = splitCmdline(decoded.replace(new RegExp(SELF_REF, 'g'), ` ${SELF_REF} `));
    return { file, line, start, end, quote, args };
  });
}

function readShellWord(text: string, start: number, variable: string, where: string) {
  const first = text[start];
  const quote: GrubAssignment['quote'] = first === '"' || first === "'" ? first : '';
  let i = quote ? start + 1 : start;
  let decoded = '';
  const selfRef = new RegExp(`^\\$(?:${variable}\\b|\\{${variable}\\})`);
  for (;;) {
    const ch = text[i];
    if (ch === undefined) {
      if (quote) throw new Error(`${where}: unterminated ${quote} quote`);
      break;
    }
    if (quote === "'") {
      if (ch === "'") {
        i++;
        break;
      }
      decoded += ch;
      i++;
      continue;
    }
    if (quote === '"' && ch === '"') {
      i++;
      break;
    }
    if (!quote && /[\s;&|()<>]/.test(ch)) break;
    if (!quote && (ch === '"' || ch === "'"))
      throw new Error(`${where}: mixed quoting in ${variable} is not supported; quote the whole value with one pair of quotes`);
    if (ch === '\\') {
      const next = text[i + 1] ?? '';
      if (next === '\n') {
        i += 2;
        continue;
      }
      if (!quote || '"\\$`'.includes(next)) {
        decoded += next;
        i += 2;
        continue;
      }
      decoded += ch;
      i++;
      continue;
    }
    if (ch === '$' || ch === '`') {
      const ref = selfRef.exec(text.slice(i));
      if (!ref)
        throw new Error(
          `${where}: ${variable} uses shell expansion other than $${variable}, so hvtune cannot tell its value; write the arguments out, or edit it by hand`,
        );
      decoded += SELF_REF;
      i += ref[0].length;
      continue;
    }
    decoded += ch;
    i++;
  }
  if (quote && text[i] !== undefined && !/[\s;&|()<>]/.test(text[i])) {
    throw new Error(`${where}: mixed quoting in ${variable} is not supported; quote the whole value with one pair of quotes`);
  }
  return { decoded, end: i, quote };
}

/** Render arguments as the value source text, in the assignment's own quoting when it can hold them. */
export function renderValue(args: readonly string[], quote: GrubAssignment['quote'], variable: string): string {
  const plain = args.every((a) => a !== SELF_REF && !/['\s]/.test(a));
  if (quote === "'" && plain) return `'${args.join(' ')}'`;
  if (quote === '' && plain && args.length === 1 && /^[A-Za-z0-9_.,:=/+@-]+$/.test(args[0])) return args[0];
  const body = args.map((a) => (a === SELF_REF ? `$${variable}` : a.replace(/(["\\$`])/g, '\\$1'))).join(' ');
  return `"${body}"`;
}

/** The value the chain of assignments produces (grub.d files are sourced after the main file). */
export function effectiveArgs(chain: readonly GrubAssignment[]): string[] {
  let value: string[] = [];
  for (const a of chain) value = a.args.flatMap((arg) => (arg === SELF_REF ? value : [arg]));
  return value;
}

/** The last assignment that sets the value afresh (does not extend the previous one). */
export function baseIndex(chain: readonly GrubAssignment[]): number {
  let base = 0;
  chain.forEach((a, i) => {
    if (!a.args.includes(SELF_REF)) base = i;
  });
  return base;
}

/**
 * Apply `present`/`absent` to the live part of a chain (from the last assignment that does not
 * extend the previous value). A `key=value` replaces the last occurrence of its key and removes
 * the others, so keys never duplicate; a new argument goes to the end of that base assignment.
 * Returns new argument lists per chain index.
 */
export function editChain(chain: readonly GrubAssignment[], present: readonly string[], absent: readonly string[]): string[][] {
  const next = chain.map((a) => [...a.args]);
  const base = baseIndex(chain);
  const live = next.map((_, i) => i).filter((i) => i >= base);
  for (const spec of absent) for (const i of live) next[i] = next[i].filter((arg) => !absentMatches(spec, arg));
  for (const arg of present) {
    const key = argKey(arg);
    const hits: [number, number][] = [];
    for (const i of live)
      next[i].forEach((a, j) => {
        if (a !== SELF_REF && argKey(a) === key) hits.push([i, j]);
      });
    if (hits.length === 0) {
      next[base].push(arg);
      continue;
    }
    const [li, lj] = hits[hits.length - 1];
    next[li][lj] = arg;
    for (const i of live) next[i] = next[i].filter((a, j) => (i === li && j === lj) || a === SELF_REF || argKey(a) !== key);
  }
  keepHugepagePairs(next, present);
  return next;
}

/**
 * `hugepages=N` counts pages of the `hugepagesz=` before it, so a pair given in `present` stays
 * adjacent, in that order, wherever set semantics put its members.
 */
function keepHugepagePairs(next: string[][], present: readonly string[]): void {
  present.forEach((size, p) => {
    const count = present[p + 1];
    if (argKey(size) !== 'hugepagesz' || count === undefined || argKey(count) !== 'hugepages') return;
    for (const args of next) {
      const s = args.indexOf(size);
      const c = args.indexOf(count);
      if (s === -1 || c === -1 || c === s + 1) continue;
      args.splice(c, 1);
      args.splice(args.indexOf(size) + 1, 0, count);
    }
  });
}

/** Replace the value spans of changed assignments in one file's text; other bytes are kept. */
export function rewriteFile(text: string, edits: { assignment: GrubAssignment; args: string[] }[], variable: string): string {
  let out = text;
  for (const { assignment, args } of [...edits].sort((x, y) => y.assignment.start - x.assignment.start)) {
    out = out.slice(0, assignment.start) + renderValue(args, assignment.quote, variable) + out.slice(assignment.end);
  }
  return out;
}

/** Append a new assignment at the end of a file, after a newline if the file lacks one. */
export function appendAssignment(text: string, variable: string, args: readonly string[]): string {
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${sep}${variable}=${renderValue(args, '"', variable)}\n`;
}
