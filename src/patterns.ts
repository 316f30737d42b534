// Host patterns, as Ansible evaluates them, for a play's `hosts:` and `--limit`:
//   hv1              a host          kvm_hosts    a group (every host in it and its children)
//   all  or  *       every host      hv*  kvm_?  hv[12]   globs on host and group names (src/glob.ts)
//   ~hv\d+           a regular expression on host and group names
//   a:b  or  a,b     union           a:&b         intersection          a:!b   exclusion
// Unions are taken first, then intersections, then exclusions, whatever their order in the
// pattern; a pattern of only intersections/exclusions starts from `all`. The result is in
// inventory order.

import { InputError } from './errors.js';
import { globMatcher, isGlob } from './glob.js';
import { closestMatches, listWords } from './schema.js';
import { compileUserRegExp, type UserRegExp } from './user-regexp.js';

/**
 * What host patterns need of an inventory; src/inventory.ts's Inventory is one. Declared here, not
 * imported, because src/inventory.ts re-exports selectHosts: the two files must not import each other.
 */
export interface HostScope {
  file: string;
  /** Host names in inventory order. */
  hosts: ReadonlyMap<string, unknown>;
  groups: ReadonlyMap<string, { hosts: readonly string[]; children: readonly string[] }>;
}

export interface PatternMatch {
  hosts: string[];
  /** Terms that matched no host or group, as written. */
  unmatched: string[];
}

export function selectHosts(inv: HostScope, pattern: string): string[] {
  return matchPattern(inv, pattern).hosts;
}

export function matchPattern(inv: HostScope, pattern: string): PatternMatch {
  const terms = splitPattern(pattern);
  const union = terms.filter((t) => !t.startsWith('&') && !t.startsWith('!'));
  const intersect = terms.filter((t) => t.startsWith('&')).map((t) => t.slice(1));
  const exclude = terms.filter((t) => t.startsWith('!')).map((t) => t.slice(1));
  const unmatched: string[] = [];
  const resolve = (term: string, written: string): Set<string> => {
    const hosts = hostsOfTerm(inv, term);
    if (hosts.size === 0) unmatched.push(written);
    return hosts;
  };

  const selected = new Set<string>();
  for (const term of union.length ? union : ['all']) for (const h of resolve(term, term)) selected.add(h);
  for (const term of intersect) {
    const keep = resolve(term, '&' + term);
    for (const h of selected) if (!keep.has(h)) selected.delete(h);
  }
  for (const term of exclude) for (const h of resolve(term, '!' + term)) selected.delete(h);
  return { hosts: [...inv.hosts.keys()].filter((h) => selected.has(h)), unmatched };
}

/**
 * Hosts of `--limit`. Unlike a play's `hosts:` (where no match is a warning), a limit that
 * selects nothing is a mistake: say which part matched nothing and what exists.
 */
export function selectLimit(inv: HostScope, limit: string): string[] {
  const { hosts, unmatched } = matchPattern(inv, limit);
  if (hosts.length > 0) return hosts;
  const names = [...inv.hosts.keys(), ...inv.groups.keys()];
  const hints = unmatched
    .map((term) => term.replace(/^[&!]/, ''))
    .flatMap((term) => closestMatches(term, names))
    .map((n) => `"${n}"`);
  const detail = unmatched.length ? ` ("${unmatched.join('", "')}" matches nothing)` : '';
  const mean = hints.length ? `; did you mean ${[...new Set(hints)].join(', ')}?` : '';
  throw new InputError([
    {
      path: '--limit',
      message:
        `"${limit}" matches no host of ${inv.file}${detail}${mean} ` +
        `(hosts: ${listWords([...inv.hosts.keys()])}; groups: ${listWords([...inv.groups.keys()])})`,
    },
  ]);
}

/** Split on `:` and `,` outside brackets (`hv[1:3]` is one glob). */
export function splitPattern(pattern: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of pattern) {
    if (ch === '[') depth++;
    if (ch === ']') depth = Math.max(0, depth - 1);
    if ((ch === ':' || ch === ',') && depth === 0) {
      terms.push(current);
      current = '';
    } else current += ch;
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '' && t !== '&' && t !== '!');
}

function hostsOfTerm(inv: HostScope, term: string): Set<string> {
  if (term === 'all' || term === '*') return new Set(inv.hosts.keys());
  if (inv.groups.has(term)) return hostsOfGroup(inv, term);
  if (inv.hosts.has(term)) return new Set([term]);
  const matches = term.startsWith('~') ? regExpMatcher(term.slice(1)) : isGlob(term) ? globMatcher(term) : null;
  const out = new Set<string>();
  if (!matches) return out;
  for (const name of inv.groups.keys()) if (matches(name)) for (const h of hostsOfGroup(inv, name)) out.add(h);
  for (const name of inv.hosts.keys()) if (matches(name)) out.add(name);
  return out;
}

function hostsOfGroup(inv: HostScope, name: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  const group = inv.groups.get(name);
  if (!group || seen.has(name)) return out;
  seen.add(name);
  for (const h of group.hosts) out.add(h);
  for (const child of group.children) for (const h of hostsOfGroup(inv, child, seen)) out.add(h);
  return out;
}

function regExpMatcher(source: string): (name: string) => boolean {
  let re: UserRegExp;
  try {
    re = compileUserRegExp(source);
  } catch (err) {
    throw new InputError([{ message: `invalid regular expression in host pattern "~${source}": ${(err as Error).message}` }]);
  }
  return (name) => re.test(name);
}
