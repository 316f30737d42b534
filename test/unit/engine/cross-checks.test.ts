// The engine's cross-check pass: after every task of the host is planned, before anything is
// applied. The host is this machine's /bin/sh on files in a scratch dir; the module and its rule
// are test input: a `size` module writes a number into a file, and its rule says that two tasks
// asking for sizes whose sum is above 100 cannot work (error), above 50 is odd (warning).

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/events.js';
import type { CrossCheck, Module } from '../../../src/module.js';
import { runLocal } from './local-run.js';

const dir = mkdtempSync(join(tmpdir(), 'hvtune-cross-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  rmSync(join(dir, 'a'), { force: true });
  rmSync(join(dir, 'b'), { force: true });
});

type SizeArgs = { path: string; size: number };
const sumRule: CrossCheck = {
  id: 'size-sum',
  description: 'the sizes of every size task add up to at most 100',
  check: ({ tasks }) => {
    const sized = tasks.filter((t) => t.module === 'size');
    const sum = sized.reduce((n, t) => n + (t.args as SizeArgs).size, 0);
    const last = sized[sized.length - 1];
    if (!last || sum <= 50) return { problems: [] };
    // what the task read is there: the rule sees the plan, not only the arguments
    const read = sized.map((t) => String(t.observed ?? 'absent')).join(',');
    return { problems: [{ severity: sum > 100 ? 'error' : 'warning', at: last, message: `sizes add up to ${sum} (read: ${read})` }] };
  },
};
const size: Module<SizeArgs, string | null> = {
  name: 'size',
  description: 'writes a size into a file',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path', 'size'],
    properties: { path: { type: 'string' }, size: { type: 'integer' } },
  },
  read: (args) => [{ kind: 'file', path: args.path }],
  parse: (_args, [r]) => (r.kind === 'file' ? r.content : null),
  plan: (args, observed) => ({
    changes: observed === String(args.size) ? [] : [{ summary: `size ${args.path}`, target: `size:${args.path}`, effect: 'live' }],
  }),
  apply: async (_changes, host, args) => {
    await host.writeFile(args.path, String(args.size), { backup: false });
  },
  crossChecks: [sumRule],
};
const modules = new Map<string, Module>([['size', size]]);

async function run(check: boolean, a: number, b: number, crossCheckErrors?: 'stop' | 'report') {
  const events: RunEvent[] = [];
  const report = await runLocal(
    modules,
    [`{ name: first, size: { path: ${dir}/a, size: ${a} } }`, `{ name: second, size: { path: ${dir}/b, size: ${b} } }`],
    { check, crossCheckErrors, onEvent: (e) => events.push(e) },
  );
  return { report, events };
}

describe('cross-checks in a run', () => {
  it('an error stops the host before any change, in apply mode', async () => {
    const { report, events } = await run(false, 60, 50);
    expect(existsSync(join(dir, 'a'))).toBe(false);
    expect(existsSync(join(dir, 'b'))).toBe(false);
    expect(report.recap.local.failed).toBe(1);
    expect(report.changes).toEqual([]);
    expect(report.crossChecks).toEqual([
      {
        host: 'local',
        rule: 'size-sum',
        severity: 'error',
        message: 'sizes add up to 110 (read: absent,absent)',
        task: 'second',
        pos: expect.objectContaining({ file: 'p.yml', line: 6 }),
      },
    ]);
    expect(events.some((e) => e.type === 'task-start')).toBe(false);
    expect(report.failures[0].message).toMatch(/1 cross-check error\(s\) .*stopped before any change/);
  });

  it('check mode says the same, and fails the host (exit 1): what apply would do', async () => {
    const { report } = await run(true, 60, 50);
    expect(report.crossChecks.map((p) => p.severity)).toEqual(['error']);
    expect(report.recap.local.failed).toBe(1);
  });

  it('drift and snapshot only look: there an error is told and the tasks still plan', async () => {
    const { report } = await run(true, 60, 50, 'report');
    expect(report.crossChecks.map((p) => p.severity)).toEqual(['error']);
    expect(report.recap.local.failed).toBe(0);
    expect(report.changes.map((c) => c.target)).toEqual([`size:${dir}/a`, `size:${dir}/b`]);
  });

  it('a warning is reported, in the run warnings too, and apply goes on; a second run changes nothing', async () => {
    const { report } = await run(false, 30, 25);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('30');
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('25');
    expect(report.crossChecks.map((p) => [p.severity, p.message])).toEqual([['warning', 'sizes add up to 55 (read: absent,absent)']]);
    expect(report.warnings).toContain('local: second: [size-sum] sizes add up to 55 (read: absent,absent)');
    const again = await run(false, 30, 25);
    expect(again.report.changes).toEqual([]);
    expect(again.report.crossChecks.map((p) => p.message)).toEqual(['sizes add up to 55 (read: 30,25)']);
  });

  it('no problem, no report', async () => {
    const { report } = await run(false, 10, 20);
    expect(report.crossChecks).toEqual([]);
    expect(report.recap.local.changed).toBe(2);
  });
});
