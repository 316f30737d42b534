import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as DiffLibrary from 'diff';

// Loaded with the first diff: a converged run renders none (the library is CommonJS too, so a
// require loads it at once).
const requireCommonJs = createRequire(import.meta.url);
let library: typeof DiffLibrary | undefined;
const diffLibrary = () => (library ??= requireCommonJs('diff') as typeof DiffLibrary);

/**
 * Bounds on the work of one diff, so one large file cannot stall the controller (and every host
 * waiting on it): Myers' algorithm costs about (lines changed)², so 16 000 changed lines took 43 s.
 * Past either bound the diff is replaced by one line with both sides' sizes and sha256.
 */
export const DIFF_LIMITS = {
  /** before and after together */
  maxBytes: 4 * 1024 * 1024,
  /** lines added plus lines removed */
  maxChangedLines: 2000,
};

/**
 * At least how many lines a diff of the two texts adds and removes: the lines one side has more
 * often than the other. Linear, so a file rewritten whole is omitted before Myers starts at all.
 */
export function minChangedLines(before: string, after: string): number {
  const count = new Map<string, number>();
  for (const l of before.split('\n')) count.set(l, (count.get(l) ?? 0) + 1);
  for (const l of after.split('\n')) count.set(l, (count.get(l) ?? 0) - 1);
  let n = 0;
  for (const c of count.values()) n += Math.abs(c);
  return n;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const lineCount = (text: string | null) => (text === null || text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0));

/** The line that stands for a diff too large to compute or to read. */
function omitted(path: string, before: string | null, after: string | null, why: string): string {
  const side = (label: string, text: string | null) =>
    text === null ? `${label}: absent` : `${label}: ${lineCount(text)} lines, sha256 ${sha256(text)}`;
  return `--- a${path}\n+++ b${path}\n# diff omitted (${why}); ${side('before', before)}; ${side('after', after)}\n`;
}

/** A file change as a unified diff (`/dev/null` for a file created or removed), within DIFF_LIMITS. */
export function unifiedDiff(path: string, before: string | null, after: string | null, limits = DIFF_LIMITS): string {
  const bytes = (before?.length ?? 0) + (after?.length ?? 0);
  if (bytes > limits.maxBytes) return omitted(path, before, after, `${bytes} characters, over ${limits.maxBytes}`);
  const least = minChangedLines(before ?? '', after ?? '');
  if (least > limits.maxChangedLines) return omitted(path, before, after, `${least} lines changed, over ${limits.maxChangedLines}`);
  const patch = diffLibrary().createTwoFilesPatch(
    before === null ? '/dev/null' : `a${path}`,
    after === null ? '/dev/null' : `b${path}`,
    before ?? '',
    after ?? '',
    undefined,
    undefined,
    // undefined once the edit is longer: Myers gives up after maxEditLength rounds instead of squaring
    { context: 3, maxEditLength: limits.maxChangedLines },
  );
  if (patch === undefined) return omitted(path, before, after, `more than ${limits.maxChangedLines} lines changed`);
  return patch.replace(/^=+\n/, '');
}

/**
 * A change record's diff, computed when first read (only `--diff` and `--json` read it) and kept:
 * a run without them spends nothing on diffs.
 */
export function lazyDiff<T extends object>(target: T, file: { path: string; before: string | null; after: string | null } | undefined) {
  let text: string | undefined;
  Object.defineProperty(target, 'diff', {
    enumerable: true,
    configurable: true,
    get: () => (file ? (text ??= unifiedDiff(file.path, file.before, file.after)) : null),
  });
  return target as T & { diff: string | null };
}
