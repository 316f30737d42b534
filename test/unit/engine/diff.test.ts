import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { lazyDiff, minChangedLines, unifiedDiff } from '../../../src/engine/diff.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `key${i}=${tag}${i}`).join('\n') + '\n';

describe('unifiedDiff', () => {
  test('a small change is a unified diff with three lines of context', () => {
    const d = unifiedDiff('/etc/x.conf', 'a\nb\nc\nd\ne\n', 'a\nb\nC\nd\ne\n');
    expect(d).toContain('--- a/etc/x.conf\n+++ b/etc/x.conf\n@@ -1,5 +1,5 @@\n a\n b\n-c\n+C\n d\n e\n');
  });

  test('a created file diffs against /dev/null', () => {
    expect(unifiedDiff('/etc/new', null, 'x\n')).toContain('--- /dev/null\n+++ b/etc/new\n@@ -0,0 +1,1 @@\n+x\n');
  });

  test.each([16000, 40000])('%i lines all changed: omitted with both sides’ sizes and sha256, not diffed', (n) => {
    const before = lines(n, 'old');
    const after = lines(n, 'new');
    const d = unifiedDiff('/etc/big.conf', before, after);
    expect(d).toContain(`# diff omitted (${2 * n} lines changed, over 2000)`);
    expect(d).toContain(`before: ${n} lines, sha256 ${sha(before)}`);
    expect(d).toContain(`after: ${n} lines, sha256 ${sha(after)}`);
    expect(d.split('\n').length).toBeLessThan(5);
  });

  test('a large file with a few changed lines still gets its diff', () => {
    const before = lines(40000, 'v');
    const after = before.replace('key20000=v20000\n', 'key20000=changed\n');
    const d = unifiedDiff('/etc/big.conf', before, after);
    expect(d).toContain('-key20000=v20000\n+key20000=changed\n');
  });

  test('reordered lines (same lines, other order) stop Myers at the edit bound', () => {
    const before = lines(3000, 'v');
    const after = before.split('\n').reverse().join('\n');
    expect(minChangedLines(before, after)).toBe(0);
    expect(unifiedDiff('/etc/r.conf', before, after)).toContain('# diff omitted (more than 2000 lines changed)');
  });

  test('over the byte bound it is omitted before any line is compared', () => {
    const d = unifiedDiff('/etc/x', 'a\n', 'b\n', { maxBytes: 3, maxChangedLines: 2000 });
    expect(d).toContain('# diff omitted (4 characters, over 3)');
  });
});

describe('lazyDiff', () => {
  test('a change record without a file change has diff null', () => {
    expect(lazyDiff({ summary: 's' }, undefined).diff).toBeNull();
  });

  test('the diff is part of the record when read, and in its JSON', () => {
    const r = lazyDiff({ summary: 's' }, { path: '/etc/x', before: 'a\n', after: 'b\n' });
    expect(JSON.parse(JSON.stringify(r)).diff).toContain('-a\n+b\n');
    expect(r.diff).toBe(r.diff);
  });
});
