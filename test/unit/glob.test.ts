// The engine's one glob matcher: its semantics as src/glob.ts documents them, and the shell's own
// `case` as the reference for what a glob means (libvirt_domain's read runs its patterns there).

import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { globMatch, globMatcher, isGlob, pathGlobMatch, wildcardMatch } from '../../src/glob.js';

describe('globMatch', () => {
  test.each([
    ['hv*', 'hv', true],
    ['hv*', 'hv12', true],
    ['hv*', 'xhv1', false],
    ['*', 'anything-at_all.1', true],
    ['hv?', 'hv1', true],
    ['hv?', 'hv12', false],
    ['hv?', 'hv', false],
    ['hv[12]', 'hv1', true],
    ['hv[12]', 'hv2', true],
    ['hv[12]', 'hv3', false],
    // a class is a class: never the literal text as well
    ['hv[12]', 'hv[12]', false],
    ['hv[1-3]', 'hv2', true],
    ['hv[1-3]', 'hv4', false],
    ['hv[!1]', 'hv2', true],
    ['hv[!1]', 'hv1', false],
    ['hv[^1]', 'hv2', true],
    ['hv[^1]', 'hv1', false],
    ['hv[[:digit:]]', 'hv7', true],
    ['hv[[:digit:]]', 'hvx', false],
    ['[]a]', ']', true],
    ['[!]a]', 'b', true],
    ['[!]a]', ']', false],
    ['hv\\*', 'hv*', true],
    ['hv\\*', 'hv1', false],
    // a `[` without its `]` is a character
    ['hv[', 'hv[', true],
    ['hv]', 'hv]', true],
    // no braces, extglobs, globstar, negation or regular expressions: the characters themselves
    ['{a,b}', 'a', false],
    ['{a,b}', '{a,b}', true],
    ['(a|b)', 'a', false],
    ['(a|b)', '(a|b)', true],
    ['+(a)', 'a', false],
    ['+(a)', '+(a)', true],
    ['!a', 'b', false],
    ['!a', '!a', true],
    ['a.b', 'axb', false],
    ['a+b', 'aab', false],
    ['a+b', 'a+b', true],
    ['**', 'ab', true],
    // case-sensitive; a leading dot is an ordinary character; '/' is never matched by a wildcard
    ['HV*', 'hv1', false],
    ['*', '.hidden', true],
    ['?x', '.x', true],
    ['a*', 'a/b', false],
    ['a?b', 'a/b', false],
    ['hv1', 'hv1', true],
    ['', '', true],
    ['', 'x', false],
  ])('%j against %j is %s', (pattern, name, expected) => {
    expect(globMatch(pattern, name)).toBe(expected);
    expect(globMatcher(pattern)(name)).toBe(expected);
  });

  test('agrees with the shell’s `case` (the same patterns the hosts see)', () => {
    // Patterns and names over a small alphabet that holds every special character. Left out, as
    // documented: `[^…]` (dash reads ^ as a character) and the names `.` and `..`.
    const patterns = [
      '*',
      '?',
      'a*b',
      '*.1',
      'a?',
      '[ab]',
      '[!ab]',
      '[a-c]1',
      '[]a]',
      '[!]a]',
      'a[',
      'a]',
      '[a',
      '\\*',
      'a\\?',
      '!a',
      'a!',
      '[[:digit:]]',
      '[[:alpha:]]*',
      '*[!.]',
      '.*',
      '[.]a',
      'a-b',
      '[a-]',
      '*:*',
      'a\\b',
    ];
    const names = [
      'a',
      'b',
      'ab',
      'a1',
      'b.1',
      ']',
      '[',
      'a[',
      'a]',
      '*',
      'a?',
      'aX',
      '!a',
      'a!',
      '1',
      'c1',
      '.a',
      'a:b',
      'a-b',
      '-',
      'a.',
      'ab1',
      'axxb',
      'a\\b',
      'ab.1',
    ];
    const pairs = patterns.flatMap((p) => names.map((n) => [p, n] as const));
    const script = 'while IFS= read -r p && IFS= read -r s; do case $s in $p) echo 1;; *) echo 0;; esac; done';
    const input = pairs.map(([p, n]) => `${p}\n${n}\n`).join('');
    const shell = execFileSync('sh', ['-c', script], { input, encoding: 'utf8' }).trim().split('\n');
    const differ = pairs.filter(([p, n], i) => globMatch(p, n) !== (shell[i] === '1')).map(([p, n]) => `${p} ${n}`);
    expect(differ).toEqual([]);
  });
});

describe('isGlob', () => {
  test.each([
    ['hv1', false],
    ['web-01.lab', false],
    ['hv*', true],
    ['hv?', true],
    ['hv[12]', true],
    ['hv[', false],
    ['hv]', false],
    ['hv\\*', false],
    ['a+b', false],
  ])('%j → %s', (pattern, expected) => expect(isGlob(pattern)).toBe(expected));
});

describe('pathGlobMatch: the files a shell expansion of the pattern lists', () => {
  test.each([
    ['/etc/sysctl.d/*.conf', '/etc/sysctl.d/99-net.conf', true],
    ['/etc/sysctl.d/*.conf', '/etc/sysctl.d/99-net.conf.bak', false],
    ['/etc/sysctl.d/*.conf', '/etc/sysctl.d/sub/99-net.conf', false],
    ['/etc/sysctl.d/*.conf', '/etc/sysctl.dX99.conf', false],
    ['/etc/sysctl.d/*.conf', '/run/sysctl.d/99-net.conf', false],
    // hidden files only when the pattern writes the dot, as the shell's expansion does
    ['/etc/sysctl.d/*.conf', '/etc/sysctl.d/.99-net.conf', false],
    ['/etc/sysctl.d/?99.conf', '/etc/sysctl.d/.99.conf', false],
    ['/etc/sysctl.d/.*.conf', '/etc/sysctl.d/.99-net.conf', true],
    ['/etc/modprobe.d/[0-9]*.conf', '/etc/modprobe.d/50-kvm.conf', true],
    ['/etc/modprobe.d/[0-9]*.conf', '/etc/modprobe.d/kvm.conf', false],
    ['/etc/default/grub.d/*.cfg', '/etc/default/grub.d/hvtune.cfg', true],
  ])('%s, %s: %s', (pattern, path, expected) => expect(pathGlobMatch(pattern, path)).toBe(expected));
});

describe('wildcardMatch: OpenSSH host patterns', () => {
  test.each([
    ['10.0.0.*', '10.0.0.11', true],
    ['10.0.0.*', '10.0.1.11', false],
    ['hv?', 'hv7', true],
    ['hv?', 'hv10', false],
    // brackets are how known_hosts writes a port, never a class
    ['[10.0.0.11]:2222', '[10.0.0.11]:2222', true],
    ['[10.0.0.11]:2222', '1', false],
    ['[hv?.lab]:*', '[hv1.lab]:2222', true],
    ['hv[12]', 'hv1', false],
    ['hv[12]', 'hv[12]', true],
    ['HV*.Lab', 'hv1.lab', true],
    ['a\\b', 'a\\b', true],
  ])('%j against %j is %s', (pattern, name, expected) => expect(wildcardMatch(pattern, name)).toBe(expected));
});
