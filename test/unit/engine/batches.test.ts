// `serial` and the failure thresholds, with Ansible's meaning.

import { describe, expect, it } from 'vitest';
import { batchesOf, exceedsFailPercentage } from '../../../src/engine/batches.js';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `hv${i + 1}`);

describe('batchesOf', () => {
  it('no serial: one batch of every host; no host: no batch', () => {
    expect(batchesOf(hosts(3), undefined)).toEqual([hosts(3)]);
    expect(batchesOf([], [2])).toEqual([]);
  });

  it('a number: batches of that many, the last one shorter', () => {
    expect(batchesOf(hosts(5), [2])).toEqual([['hv1', 'hv2'], ['hv3', 'hv4'], ['hv5']]);
  });

  it('a percentage of the play hosts, rounded down, never 0', () => {
    expect(batchesOf(hosts(10), ['30%']).map((b) => b.length)).toEqual([3, 3, 3, 1]);
    expect(batchesOf(hosts(3), ['10%']).map((b) => b.length)).toEqual([1, 1, 1]);
    expect(batchesOf(hosts(4), ['100%'])).toEqual([hosts(4)]);
  });

  it('a list: a canary, then growing batches; the last size repeats', () => {
    expect(batchesOf(hosts(20), [1, 5, '50%']).map((b) => b.length)).toEqual([1, 5, 10, 4]);
    expect(batchesOf(hosts(7), [1, 2]).map((b) => b.length)).toEqual([1, 2, 2, 2]);
  });
});

describe('exceedsFailPercentage', () => {
  it('more than the percentage stops, as much does not', () => {
    expect(exceedsFailPercentage(1, 2, 0)).toBe(true);
    expect(exceedsFailPercentage(0, 2, 0)).toBe(false);
    expect(exceedsFailPercentage(1, 4, 25)).toBe(false);
    expect(exceedsFailPercentage(2, 4, 25)).toBe(true);
    expect(exceedsFailPercentage(3, 3, undefined)).toBe(false);
  });
});
