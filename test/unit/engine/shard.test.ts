// --shard K/N and report merge: disjoint, stable slices, merged back into one run's recap.
import { describe, expect, test } from 'vitest';
import type { HostRecap, RunReport } from '../../../src/events.js';
import { exitCode } from '../../../src/events.js';
import { mergeRecords, mergeReports, recordExitCode } from '../../../src/engine/merge.js';
import { inShard, parseShard, shardOf } from '../../../src/engine/shard.js';
import type { RunRecord } from '../../../src/records.js';

const names = Array.from({ length: 400 }, (_, i) => `hv${i + 1}.dc1.example.net`);

describe('--shard K/N', () => {
  test('N slices are disjoint, cover every host, and are about even', () => {
    const slices = [1, 2, 3, 4].map((index) => names.filter((h) => inShard(h, { index, count: 4 })));
    expect(slices.flat().sort()).toEqual([...names].sort());
    for (const s of slices) expect(s.length).toBeGreaterThan(60); // 100 expected each
  });

  test('a host keeps its slice as the inventory grows (only the hash of its name decides)', () => {
    const before = new Map(names.map((h) => [h, shardOf(h, 8)]));
    const grown = [...names, ...Array.from({ length: 100 }, (_, i) => `new${i}`)];
    for (const h of names) expect(shardOf(h, 8)).toBe(before.get(h));
    expect(grown.filter((h) => inShard(h, { index: 3, count: 8 })).filter((h) => names.includes(h))).toEqual(
      names.filter((h) => before.get(h) === 2),
    );
  });

  test('K/N is checked', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['0/4', '5/4', '4', 'a/b', '1/0', '-1/2']) expect(() => parseShard(bad), bad).toThrow(/expected K\/N with 1 ≤ K ≤ N/);
  });
});

const recap = (over: Partial<HostRecap> = {}): HostRecap => ({
  ok: 1,
  changed: 0,
  failed: 0,
  skipped: 0,
  unreachable: false,
  pending: [],
  ...over,
});
const report = (check: boolean, hosts: Record<string, HostRecap>, extra: Partial<RunReport> = {}): RunReport => ({
  check,
  recap: hosts,
  changes: [],
  pending: [],
  failures: [],
  warnings: [],
  crossChecks: [],
  roundTrips: Object.fromEntries(Object.keys(hosts).map((h) => [h, 1])),
  stopped: null,
  untouched: [],
  durationMs: 1000,
  ...extra,
});

describe('report merge', () => {
  test('reports: every host once, sorted by name; the exit code of one run', () => {
    const a = report(true, { hv10: recap(), hv2: recap({ changed: 1 }) }, { durationMs: 3000 });
    const b = report(true, { hv1: recap() });
    const merged = mergeReports([
      { file: 'a.json', report: a },
      { file: 'b.json', report: b },
    ]);
    expect(Object.keys(merged.recap)).toEqual(['hv1', 'hv2', 'hv10']);
    expect(merged.durationMs).toBe(3000);
    // the closing summary counts the whole run, not one shard
    expect(merged.summary).toMatchObject({ check: true, hosts: 3, changedHosts: 1, failedHosts: 0 });
    expect(exitCode({ ...merged, changes: [{} as never] })).toBe(2);
    const failed = mergeReports([
      { file: 'a.json', report: a },
      { file: 'c.json', report: report(true, { hv3: recap({ failed: 1 }) }) },
    ]);
    expect(exitCode(failed)).toBe(1);
  });

  test('a host in two shards, or check mixed with apply, is refused', () => {
    const a = report(false, { hv1: recap() });
    expect(() =>
      mergeReports([
        { file: 'a.json', report: a },
        { file: 'b.json', report: a },
      ]),
    ).toThrow('hv1 is in a.json and in b.json: shards must be disjoint');
    expect(() =>
      mergeReports([
        { file: 'a.json', report: a },
        { file: 'b.json', report: report(true, { hv2: recap() }) },
      ]),
    ).toThrow(/some reports are of check mode and some of apply/);
  });

  test('records of one run merge into one that rollback can take; other inputs are refused', () => {
    const record = (hosts: RunRecord['hosts'], playbookSha = 'p'): RunRecord => ({
      format: 'hvtune-run',
      version: 1,
      id: 'x',
      command: 'play',
      startedAt: '2026-11-30T10:00:00.000Z',
      finishedAt: '2026-11-30T10:01:00.000Z',
      inputs: { playbook: { path: '/p.yml', sha256: playbookSha }, inventory: { path: '/i.yml', sha256: 'i' }, templates: [] },
      hosts,
    });
    const merged = mergeRecords(
      [
        { file: 'a', record: record({ hv2: { result: 'ok', tasks: [] } }) },
        { file: 'b', record: { ...record({ hv1: { result: 'failed', tasks: [] } }), finishedAt: '2026-11-30T10:05:00.000Z' } },
      ],
      'merged1',
    );
    expect(Object.keys(merged.hosts)).toEqual(['hv1', 'hv2']);
    expect(merged.id).toBe('merged1');
    expect(merged.finishedAt).toBe('2026-11-30T10:05:00.000Z');
    expect(recordExitCode(merged)).toBe(1);
    expect(() =>
      mergeRecords(
        [
          { file: 'a', record: record({ hv2: { result: 'ok', tasks: [] } }) },
          { file: 'b', record: record({ hv1: { result: 'ok', tasks: [] } }, 'other') },
        ],
        'm',
      ),
    ).toThrow('b is a record of other inputs than a: not shards of one run');
  });
});
