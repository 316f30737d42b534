// Secrets (Ansible's `no_log`): values of the variables a play names in `secret_vars`, and every
// change of a task marked `secret: true` (or whose rendered arguments hold a secret value). They
// are kept out of what hvtune prints and saves: terminal output and --json show `<redacted>`,
// run records keep a secret task's changes only as sha256 digests, and a saved plan keeps a marker
// `<secret:ID>` where a secret value was, so `apply` needs the value again (-e) to run it.

import { createHash } from 'node:crypto';
import type { Change } from './module.js';
import type { PlannedTask } from './engine/types.js';

export const REDACTED = '<redacted>';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The strings a variable's value holds: itself, or its leaves (lists, objects), numbers as text. */
export function leafStrings(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (typeof value === 'number' || typeof value === 'bigint') return [String(value)];
  if (Array.isArray(value)) return value.flatMap(leafStrings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(leafStrings);
  return [];
}

/** Every string of a JSON-like value mapped by `f` (keys kept); a copy. */
export function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  // a number -e gave (`-e pin=1234`) is a secret's leaf too: replaced, it becomes text
  if (typeof value === 'number') {
    const mapped = f(String(value));
    return mapped === String(value) ? value : mapped;
  }
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
  }
  return value;
}

/** A marker's id: a short hash of the value, so the same value gets the same marker in every host's tasks. */
const markerOf = (value: string) => `<secret:${sha256(value).slice(0, 16)}>`;
const MARKER = /<secret:([0-9a-f]{16})>/g;

/**
 * The secret values of a run, by the variable that holds them, learnt as hosts render their vars
 * (a value may differ per host). Commands pass one to the engine and use it for what they print
 * and save.
 */
export class SecretValues {
  private readonly names = new Map<string, string>();
  /** longest first, so a value inside another is not replaced first */
  private sorted: string[] = [];

  /** Note the values of variables `names` of `vars` as secret. */
  addVars(vars: Record<string, unknown>, names: readonly string[]): void {
    for (const name of names) for (const v of leafStrings(vars[name])) this.add(v, name);
  }

  add(value: string, name: string): void {
    if (value === '' || this.names.has(value)) return;
    this.names.set(value, name);
    this.sorted = [...this.names.keys()].sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.names.size;
  }

  /** Whether any string in `value` holds a secret value. */
  appearsIn(value: unknown): boolean {
    if (this.sorted.length === 0) return false;
    let found = false;
    mapStrings(value, (s) => {
      if (!found && this.sorted.some((v) => s.includes(v))) found = true;
      return s;
    });
    return found;
  }

  /** `text` with every secret value replaced (by `<redacted>`, or by what `by` gives). */
  scrub(text: string, by: (value: string) => string = () => REDACTED): string {
    let out = text;
    for (const v of this.sorted) if (out.includes(v)) out = out.split(v).join(by(v));
    return out;
  }

  /** A copy of a JSON-like value with every secret value in its strings replaced by `<redacted>`. */
  scrubDeep<T>(value: T): T {
    return this.sorted.length === 0 ? value : (mapStrings(value, (s) => this.scrub(s)) as T);
  }

  /** A copy with every secret value replaced by its marker, and which variable each marker stands for. */
  seal<T>(value: T): { value: T; markers: Record<string, string> } {
    const markers: Record<string, string> = {};
    const sealed = mapStrings(value, (s) =>
      this.scrub(s, (v) => {
        const m = markerOf(v);
        markers[m.slice(8, -1)] = this.names.get(v)!;
        return m;
      }),
    ) as T;
    return { value: sealed, markers };
  }
}

/**
 * Put secret values back where `seal` left markers, from the values the user gave again.
 * Throws naming the variables whose values are missing (or differ from the plan's).
 */
export function unseal<T>(value: T, markers: Record<string, string>, candidates: Iterable<string>): T {
  const byId = new Map<string, string>();
  for (const c of candidates) byId.set(markerOf(c).slice(8, -1), c);
  const missing = Object.entries(markers)
    .filter(([id]) => !byId.has(id))
    .map(([, name]) => name);
  if (missing.length) {
    const names = [...new Set(missing)].sort();
    throw new Error(
      `the plan holds secret values it does not keep: give ${names.map((n) => `-e ${n}=…`).join(' ')} again, with the values the plan was made with`,
    );
  }
  return mapStrings(value, (s) => s.replace(MARKER, (m, id: string) => byId.get(id) ?? m)) as T;
}

/** The secret values among `candidates` that `markers` stand for, by variable, to redact output and records. */
export function markedValues(markers: Record<string, string>, candidates: Iterable<string>): SecretValues {
  const found = new SecretValues();
  for (const c of candidates) {
    const name = markers[markerOf(c).slice(8, -1)];
    if (name !== undefined) found.add(c, name);
  }
  return found;
}

/**
 * What a saved plan or run record keeps of a secret task's change: no content, only a digest of
 * it (values, file before and after, apply data) so apply can tell the host is still as planned.
 */
export function sealChange(c: Change): Change {
  const hide = (v: string | null | undefined) => (v === null || v === undefined ? v : REDACTED);
  return {
    summary: c.summary,
    target: c.target,
    effect: c.effect,
    ...(c.before !== undefined ? { before: hide(c.before) } : {}),
    ...(c.after !== undefined ? { after: hide(c.after) } : {}),
    ...(c.diff ? { diff: { path: c.diff.path, before: hide(c.diff.before) ?? null, after: hide(c.diff.after) ?? null } } : {}),
    ...(c.warnings ? { warnings: c.warnings } : {}),
    ...(c.data !== undefined ? { data: REDACTED } : {}),
    ...(c.finalize ? { finalize: c.finalize } : {}),
    digest: changeDigest(c),
  };
}

/** sha256 of everything a change would write or compares, in a fixed order. */
export function changeDigest(c: Change): string {
  return `sha256:${sha256(
    JSON.stringify([c.target, c.effect, c.before ?? null, c.after ?? null, c.diff?.before ?? null, c.diff?.after ?? null, c.data ?? null]),
  )}`;
}

/** A planned task as plans and records keep it: a secret task's changes sealed, others as they are. */
export function sealTask<T extends PlannedTask>(t: T): T {
  return t.secret ? { ...t, changes: t.changes.map(sealChange) } : t;
}
