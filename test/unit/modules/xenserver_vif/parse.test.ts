// Parser fixtures: xe output (captured from the xe simulator, or hand-written for junk) → records.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  normaliseMac,
  parseXeBool,
  parseXeInt,
  parseXeMap,
  parseXeMinimal,
  parseXeRecords,
  parseXeSet,
} from '../../../../modules/lib/xe.js';
import { detectNetbackModel } from '../../../../modules/lib/netback.js';

const dir = join(import.meta.dirname, 'parse');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => [file, parseYaml(readFileSync(join(dir, file), 'utf8'))] as const);

describe.each(fixtures)('xe output: %s', (_file, fx) => {
  it(fx.description.trim().split('\n')[0], () => {
    if (fx.expect.minimal) {
      expect(parseXeMinimal(fx.output)).toEqual(fx.expect.minimal);
      return;
    }
    const records = parseXeRecords(fx.output);
    expect(records).toHaveLength(fx.expect.count);
    expect(records[0]).toEqual(fx.expect.first);
    for (const [k, v] of Object.entries(fx.expect.maps ?? {})) expect(parseXeMap(records[0][k])).toEqual(v);
    for (const [k, v] of Object.entries(fx.expect.sets ?? {})) expect(parseXeSet(records[0][k])).toEqual(v);
  });
});

describe('xe value parsers', () => {
  it('empty map, empty set, empty minimal', () => {
    expect(parseXeMap('')).toEqual({});
    expect(parseXeMap('<not in database>')).toEqual({});
    expect(parseXeSet('')).toEqual([]);
    expect(parseXeMinimal('\n')).toEqual([]);
  });
  it('integers: 0 is a value, -1 too, text is null', () => {
    expect(parseXeInt('0')).toBe(0);
    expect(parseXeInt(' -1 ')).toBe(-1);
    expect(parseXeInt('<not in database>')).toBeNull();
    expect(parseXeInt(undefined)).toBeNull();
  });
  it('booleans and MACs', () => {
    expect(parseXeBool('false')).toBe(false);
    expect(parseXeBool('yes')).toBeNull();
    expect(normaliseMac(' 4E-AB-01-02-03-04 ')).toBe('4e:ab:01:02:03:04');
  });
});

describe('netback model of the dom0', () => {
  it('netback/N threads: a fixed pool of N workers', () => {
    expect(
      detectNetbackModel('2.6.32.12-0.7.1.xs5.6.100.323.170596xen', ['kthreadd', 'netback/0', 'netback/1', 'netback/2']),
    ).toMatchObject({ kind: 'pool', workers: 3 });
  });
  it('vifD.N threads: a thread per VIF; vifD.N-qK: per queue (threads win over the kernel release)', () => {
    expect(detectNetbackModel('2.6.32', ['vif3.0'])).toMatchObject({ kind: 'per-vif' });
    expect(detectNetbackModel('2.6.32', ['vif3.0-q1-guest-rx'])).toMatchObject({ kind: 'per-queue' });
  });
  it('no threads: by kernel release (3.12 per VIF, 3.16 per queue, older a pool of unknown size)', () => {
    expect(detectNetbackModel('3.10.0+2', [])).toMatchObject({ kind: 'pool', workers: null });
    expect(detectNetbackModel('3.12.1', [])).toMatchObject({ kind: 'per-vif' });
    expect(detectNetbackModel('4.4.0+10', [])).toMatchObject({ kind: 'per-queue' });
  });
});
