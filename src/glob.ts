// The one glob matcher of the engine, on picomatch: host patterns (`--limit`, a play's `hosts:`),
// libvirt_domain names and known_hosts host patterns match through here, and pathGlobMatch is for
// files a glob read would list; a pattern means the same thing wherever it is written.
//
// Glob (globMatch, globMatcher, pathGlobMatch): the whole name must match.
//   *              any run of characters, also none, except '/'
//   ?              exactly one character except '/'
//   [abc] [a-z]    one character of the class; [[:digit:]] and the other POSIX classes inside;
//   [!a-z] [^a-z]  one character not in it (never '/'); `]` first in a class is a member. dash
//                  (Debian's sh) reads `[^` as the character ^, so libvirt_domain allows only `[!`
//   \x             the character x itself
//   Every other character stands for itself: no braces {a,b}, no extglobs +(a|b), no globstar **,
//   no leading `!` negation, no regular expression syntax. A `[` without its `]` is a character.
//   Case-sensitive. A leading '.' is an ordinary character, except in pathGlobMatch, which follows
//   the shell's pathname expansion (a hidden file matches only a pattern that starts with '.').
//   Unlike the shell, `*` does not match the names `.` and `..` (picomatch reads them as links).
//
// OpenSSH wildcard (wildcardMatch), for known_hosts: only `*` and `?` are special (`[host]:port` is
// how known_hosts writes a port, so brackets are characters) and case does not matter, as in
// OpenSSH's match_pattern() on the lowercased name. The same engine and the same `*` and `?`;
// that they never match '/' changes nothing, as no host name or `[host]:port` holds one.
//
// picomatch sees only `*`, `?`, whole bracket expressions and escaped characters: left to itself
// it would also read parentheses and `|` as regular expression groups, and `[12]` as `[12]` or `1`.

import picomatch from 'picomatch';
import { memoize } from './memo.js';

const OPTIONS: picomatch.PicomatchOptions = {
  dot: true,
  nobrace: true,
  noextglob: true,
  noglobstar: true,
  nonegate: true,
  posix: true,
  literalBrackets: false,
  strictSlashes: true,
};

/** Index of the `]` that closes the bracket expression opening at `start`, or -1. */
function classEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '!' || pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  for (; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === ']') return i;
    if (ch === '\\') i++;
    else if (ch === '[' && pattern[i + 1] === ':') {
      const close = pattern.indexOf(':]', i + 2);
      if (close > 0) i = close + 1;
    }
  }
  return -1;
}

interface Scanned {
  /** The pattern as picomatch must read it. */
  source: string;
  /** Whether anything in it is a wildcard or a class. */
  wild: boolean;
}

function scan(pattern: string, dialect: 'glob' | 'openssh'): Scanned {
  let source = '';
  let wild = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' || ch === '?') {
      source += ch;
      wild = true;
      continue;
    }
    if (dialect === 'glob' && ch === '\\' && i + 1 < pattern.length) {
      source += escapeChar(pattern[++i]);
      continue;
    }
    const end = dialect === 'glob' && ch === '[' ? classEnd(pattern, i) : -1;
    if (end > 0) {
      source += pattern.slice(i, end + 1);
      wild = true;
      i = end;
      continue;
    }
    source += escapeChar(ch);
  }
  return { source, wild };
}

const escapeChar = (ch: string): string => (/[A-Za-z0-9/]/.test(ch) ? ch : `\\${ch}`);

/** Whether `pattern` has a wildcard or a class, i.e. is more than a name. */
export function isGlob(pattern: string): boolean {
  return scan(pattern, 'glob').wild;
}

/** A predicate for one glob, compiled once: for testing many names against it. */
export function globMatcher(pattern: string): (name: string) => boolean {
  if (pattern === '') return (name) => name === '';
  const re = globRegExp(pattern);
  return (name) => re.test(name);
}

const globRegExp = memoize((pattern) => picomatch.makeRe(scan(pattern, 'glob').source, OPTIONS));
const pathRegExp = memoize((pattern) => picomatch.makeRe(scan(pattern, 'glob').source, { ...OPTIONS, dot: false }));
const wildcardRegExp = memoize((pattern) => picomatch.makeRe(scan(pattern, 'openssh').source, { ...OPTIONS, nocase: true }));

export function globMatch(pattern: string, name: string): boolean {
  return globMatcher(pattern)(name);
}

/**
 * Whether `path` is one of the files the shell's expansion of `pattern` could list
 * (`/etc/sysctl.d/*.conf` and `/etc/sysctl.d/99-net.conf`): wildcards stay within one directory,
 * and a hidden file matches only a pattern that writes its leading '.'.
 */
export function pathGlobMatch(pattern: string, path: string): boolean {
  if (pattern === '') return path === '';
  return pathRegExp(pattern).test(path);
}

/** An OpenSSH host pattern (`*` and `?` only, no case), as known_hosts uses it. */
export function wildcardMatch(pattern: string, name: string): boolean {
  if (pattern === '') return name === '';
  // most known_hosts lines name one host: no pattern to compile
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name.toLowerCase();
  return wildcardRegExp(pattern).test(name);
}
