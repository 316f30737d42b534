// The pure helpers of libvirt_domain: cpusets, memory sizes, canonical XML.

import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { cpusMissing, normaliseCpuset, parseCpuset } from '../../../../modules/lib/cpuset.js';
import { canonicalXml, memoryKiB } from '../../../../modules/lib/domain-xml.js';

describe('cpuset', () => {
  test.each([
    ['1,2,3', '1-3'],
    ['3,1,2', '1-3'],
    ['1-3', '1-3'],
    ['0', '0'],
    ['0-4,^2', '0-1,3-4'],
    [' 5 , 7-8 ', '5,7-8'],
    ['11-19', '11-19'],
  ])('%s → %s', (input, canonical) => expect(normaliseCpuset(input)).toBe(canonical));
  test.each(['', 'a', '3-1', '^2', '0-1,^0-1', '1;2'])('%j is refused', (bad) => expect(() => parseCpuset(bad)).toThrow(/cpuset|CPU list/));
  test('missing CPUs in range form', () => {
    expect(cpusMissing('1-9', '0-1')).toBe('2-9');
    expect(cpusMissing('0-1', '0-1')).toBe('');
  });
});

describe('memoryKiB', () => {
  test.each([
    ['2GiB', 2097152],
    ['2 GiB', 2097152],
    ['2GB', 1953125],
    ['512MiB', 524288],
    ['2097152', 2097152],
    [0, 0],
    ['1k', 1],
    ['1000b', 1],
  ] as const)('%s', (input, kib) => expect(memoryKiB(input)).toBe(kib));
  test('the unit attribute of an element applies to a bare number', () => expect(memoryKiB('2', 'GiB')).toBe(2097152));
  test('an unknown unit is an error', () => expect(() => memoryKiB('2XB')).toThrow('not a memory size'));
});

describe('canonicalXml', () => {
  test('attribute order, quotes and whitespace do not matter', () => {
    const a = `<domain type="qemu"><name>vm1</name><vcpu placement="static" current="2">4</vcpu></domain>`;
    const b = `<domain type='qemu'>\n  <name> vm1 </name>\n  <vcpu current='2' placement='static'>4</vcpu>\n</domain>\n`;
    expect(canonicalXml(a)).toBe(canonicalXml(b));
    expect(canonicalXml(a)).toBe("<domain type='qemu'>\n  <name>vm1</name>\n  <vcpu current='2' placement='static'>4</vcpu>\n</domain>\n");
  });
  test('the seed 003 XML keeps its metadata namespace and element order', () => {
    const seed = readFileSync(new URL('xml/seed003.xml', import.meta.url), 'utf8');
    const c = canonicalXml(seed);
    expect(c).toContain("<metadata xmlns:zs='http://zstack.org'>");
    expect(c.indexOf('vnic1.1')).toBeLessThan(c.indexOf('vnic1.2'));
    expect(canonicalXml(c)).toBe(c);
  });
  test('not a domain is an error', () => expect(() => canonicalXml('<network/>')).toThrow('not <domain>'));
});
