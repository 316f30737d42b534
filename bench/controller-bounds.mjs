// Work the controller does for one host that must stay bounded whatever the input (issue 15,
// finding 9): the unified diff of a large file whose every line changed, and a user regexp with
// catastrophic backtracking against a long line. Prints a Markdown table; numbers go to
// bench/results.md by hand. Needs a built tree (npm run build). No host, no lab.
//
//   node bench/controller-bounds.mjs
//
// The "before" column runs what hvtune ran before the fix (jsdiff without maxEditLength; the
// JavaScript RegExp engine), on inputs small enough to finish: its time grows with the square of
// the changed lines, and doubles with each character for the regexp.

import { createTwoFilesPatch } from 'diff';
import { unifiedDiff } from '../dist/src/engine/diff.js';
import { compileUserRegExp } from '../dist/src/user-regexp.js';

const ms = (f) => {
  const t = performance.now();
  const out = f();
  return { ms: performance.now() - t, out };
};
const allChanged = (n, tag) => Array.from({ length: n }, (_, i) => `key${i}=${tag}${i}`).join('\n') + '\n';

const rows = [];
for (const n of [1000, 2000, 16000, 40000]) {
  const a = allChanged(n, 'old');
  const b = allChanged(n, 'new');
  const now = ms(() => unifiedDiff('/etc/big.conf', a, b));
  const omitted = now.out.includes('# diff omitted');
  // the old path only where it finishes in seconds (16k lines took 43 s in the issue)
  const old = n <= 2000 ? ms(() => createTwoFilesPatch('a', 'b', a, b, undefined, undefined, { context: 3 })).ms : null;
  rows.push([
    `diff, ${n} lines all changed`,
    old === null ? '(not run)' : `${old.toFixed(0)} ms`,
    `${now.ms.toFixed(0)} ms`,
    omitted ? 'omitted: sizes + sha256' : 'full diff',
  ]);
}
for (const n of [24, 27, 100000]) {
  const line = 'a'.repeat(n) + 'b';
  const old = n <= 27 ? ms(() => /^(a+)+$/.test(line)).ms : null;
  const now = ms(() => compileUserRegExp('^(a+)+$').test(line));
  rows.push([
    `lineinfile regexp ^(a+)+$, ${n} a's and a b`,
    old === null ? '(not run)' : `${old.toFixed(0)} ms`,
    `${now.ms.toFixed(1)} ms`,
    String(now.out),
  ]);
}
console.log('| work | before the fix | now | result |\n|---|---:|---:|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
