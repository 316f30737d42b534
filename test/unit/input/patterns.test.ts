import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { loadInventory, selectHosts } from '../../../src/inventory.js';
import { matchPattern, selectLimit, splitPattern } from '../../../src/patterns.js';

const inv = loadInventory(join(import.meta.dirname, '../../fixtures/input/inventory/prod.yml'));
// hosts: bastion hv1 hv2 hv3 xs1 xs2; kvm_hosts = hv1 hv2 + amd (hv2 hv3); xen_hosts = xs1 xs2

describe.each([
  ['hv1', ['hv1']],
  ['kvm_hosts', ['hv1', 'hv2', 'hv3']],
  ['amd', ['hv2', 'hv3']],
  ['all', ['bastion', 'hv1', 'hv2', 'hv3', 'xs1', 'xs2']],
  ['*', ['bastion', 'hv1', 'hv2', 'hv3', 'xs1', 'xs2']],
  ['ungrouped', ['bastion']],
  ['hv*', ['hv1', 'hv2', 'hv3']],
  ['xs?', ['xs1', 'xs2']],
  ['hv[13]', ['hv1', 'hv3']],
  ['*_hosts', ['hv1', 'hv2', 'hv3', 'xs1', 'xs2']],
  ['~^x.\\d$', ['xs1', 'xs2']],
  ['xs2:hv1', ['hv1', 'xs2']],
  ['xs2,hv1', ['hv1', 'xs2']],
  ['kvm_hosts:&amd', ['hv2', 'hv3']],
  ['kvm_hosts:!amd', ['hv1']],
  ['!amd:kvm_hosts', ['hv1']],
  ['kvm_hosts:xen_hosts:&hv*:!hv2', ['hv1', 'hv3']],
  ['!kvm_hosts', ['bastion', 'xs1', 'xs2']],
  ['&amd', ['hv2', 'hv3']],
  ['nothing', []],
])('pattern %s', (pattern, expected) => {
  test('selects hosts in inventory order', () => {
    expect(selectHosts(inv, pattern)).toEqual(expected);
  });
});

test('unions first, then intersections, then exclusions, whatever the order written', () => {
  expect(selectHosts(inv, '!hv2:&amd:kvm_hosts')).toEqual(['hv3']);
});

test('terms that match nothing are reported', () => {
  expect(matchPattern(inv, 'hv1:nope:!zzz')).toEqual({ hosts: ['hv1'], unmatched: ['nope', '!zzz'] });
});

test('splitPattern keeps brackets whole', () => {
  expect(splitPattern(' a , b:&c:!d[1:2] ')).toEqual(['a', 'b', '&c', '!d[1:2]']);
});

describe('--limit', () => {
  test('returns the matched hosts', () => {
    expect(selectLimit(inv, 'amd')).toEqual(['hv2', 'hv3']);
  });

  test('matching nothing is an error that says so', () => {
    expect(() => selectLimit(inv, 'hv9')).toThrow(InputError);
    expect(() => selectLimit(inv, 'kvm_host')).toThrow(
      /--limit: "kvm_host" matches no host of .*prod\.yml \("kvm_host" matches nothing\); did you mean "kvm_hosts"\?/,
    );
  });
});

describe('~regex host patterns run on RE2', () => {
  test('a pattern with catastrophic backtracking is matched in linear time (the names match nothing)', () => {
    // a backtracking engine takes 2^n steps on "^(h+)+$" against a long name ending in a non-h
    const hosts = new Map([[`${'h'.repeat(5000)}1`, {}]]);
    const scope = { hosts, groups: new Map() } as unknown as Parameters<typeof matchPattern>[0];
    expect(matchPattern(scope, '~^(h+)+$')).toEqual({ hosts: [], unmatched: ['~^(h+)+$'] });
  });

  test('a lookahead is refused with the reason', () => {
    expect(() => selectHosts(inv, '~^hv(?=1)')).toThrow(/host pattern "~\^hv\(\?=1\)".*lookahead and lookbehind are not supported/);
  });
});
