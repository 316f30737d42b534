// Check mode shows every problem at once (issue 17): a failing task fails that task and the host's
// other tasks are still planned, on the files as they would be; apply still stops a host at its
// first failure (Ansible's rule). lineinfile on this machine's shell, in a scratch directory.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { lineinfile } from '../../../modules/lineinfile.js';
import type { Module } from '../../../src/module.js';
import type { RunEvent } from '../../../src/events.js';
import { exitCode } from '../../../src/events.js';
import { recapLines, noColors } from '../../../src/output/format.js';
import { runLocal } from './local-run.js';

const modules = new Map<string, Module>([['lineinfile', lineinfile as unknown as Module]]);
const dir = mkdtempSync(join(tmpdir(), 'hvtune-check-all-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const conf = join(dir, 'tuning.conf');
const missing = (n: number) => join(dir, `missing-${n}.conf`);

// task 2 and 4 fail (their file is missing and create is not set); 1, 3 and 5 change tuning.conf
const TASKS = [
  `{ name: one, lineinfile: { path: ${conf}, line: "a = 1", regexp: "^a " } }`,
  `{ name: two, lineinfile: { path: ${missing(2)}, line: "x = 1" } }`,
  `{ name: three, lineinfile: { path: ${conf}, line: "b = 2", regexp: "^b " } }`,
  `{ name: four, lineinfile: { path: ${missing(4)}, line: "y = 1" } }`,
  `{ name: five, lineinfile: { path: ${conf}, line: "c = 3", regexp: "^c " } }`,
];

function collect() {
  const events: RunEvent[] = [];
  return { events, onEvent: (e: RunEvent) => void events.push(e) };
}
const done = (events: RunEvent[]) => events.filter((e): e is Extract<RunEvent, { type: 'task-done' }> => e.type === 'task-done');

beforeEach(() => writeFileSync(conf, '# tuning\n'));

describe('check mode shows everything', () => {
  it('plans every task after a failure, on the files as the earlier tasks would leave them, and lists every failure', async () => {
    const { events, onEvent } = collect();
    const report = await runLocal(modules, TASKS, { check: true, onEvent });
    expect(done(events).map((e) => [e.task, e.status])).toEqual([
      ['one', 'changed'],
      ['two', 'failed'],
      ['three', 'changed'],
      ['four', 'failed'],
      ['five', 'changed'],
    ]);
    // task five plans on top of what one and three would write
    const five = report.changes.find((c) => c.task === 'five')!;
    expect(five.diff).toContain('\n a = 1\n b = 2\n+c = 3\n');
    expect(report.failures.map((f) => [f.task, f.message])).toEqual([
      ['two', `${missing(2)} does not exist; set create: true to create it`],
      ['four', `${missing(4)} does not exist; set create: true to create it`],
    ]);
    expect(report.recap.local).toMatchObject({ ok: 3, changed: 3, failed: 2 });
    expect(exitCode(report)).toBe(1);
    expect(report.summary).toMatchObject({ check: true, hosts: 1, changes: 3, changedHosts: 1, failedHosts: 1, failedTasks: 2 });
    expect(recapLines(report, noColors).at(-1)).toBe('Plan: 3 changes on 1 of 1 host, 0 pending reboots, 1 failed (2 tasks)');
    expect(readFileSync(conf, 'utf8')).toBe('# tuning\n');
  });

  it('a failed loop item does not hide the other items nor the later tasks', async () => {
    const { events, onEvent } = collect();
    const loop = `{ name: loop, lineinfile: { path: "{{item}}", line: "z = 1" }, loop: ["${missing(7)}", "${conf}"] }`;
    const report = await runLocal(modules, [loop, TASKS[4]], { check: true, onEvent });
    expect(done(events).map((e) => e.status)).toEqual(['failed', 'changed', 'changed']);
    expect(report.changes.find((c) => c.task === 'five')!.diff).toContain('\n z = 1\n+c = 3\n');
  });

  it('apply stops the host at its first failure: later tasks are neither planned nor applied', async () => {
    const { events, onEvent } = collect();
    const report = await runLocal(modules, TASKS, { check: false, onEvent });
    expect(done(events).map((e) => [e.task, e.status])).toEqual([
      ['one', 'changed'],
      ['two', 'failed'],
    ]);
    expect(readFileSync(conf, 'utf8')).toBe('# tuning\na = 1\n');
    expect(existsSync(missing(2))).toBe(false);
    expect(report.failures).toHaveLength(1);
    expect(exitCode(report)).toBe(1);
    expect(recapLines(report, noColors).at(-1)).toBe('Applied: 1 change on 1 of 1 host, 0 pending reboots, 1 failed');
  });

  it('ignore_errors still goes on in apply, and a clean check is 0 failed', async () => {
    const ignored = `{ name: two, lineinfile: { path: ${missing(2)}, line: "x = 1" }, ignore_errors: true }`;
    const report = await runLocal(modules, [TASKS[0], ignored, TASKS[2]], { check: false });
    expect(readFileSync(conf, 'utf8')).toBe('# tuning\na = 1\nb = 2\n');
    const again = await runLocal(modules, [TASKS[0], TASKS[2]], { check: true });
    expect(again.summary).toMatchObject({ changes: 0, failedHosts: 0, failedTasks: 0 });
    expect(exitCode(again)).toBe(0);
    expect(report.recap.local.failed).toBe(1);
  });
});
