import { describe, expect, it } from 'vitest';
import type { Change, Module } from '../../../src/module.js';
import { restoreSteps } from '../../../src/engine/rollback.js';
import { RESTORE_FILE_MODULE } from '../../../src/engine/restore-file.js';
import type { RecordHost } from '../../../src/records.js';
import { sysctl } from '../../../modules/sysctl.js';

const liveChange: Change = {
  summary: 'set a.b',
  target: 'sysctl:a.b',
  effect: 'live',
  before: '60',
  after: '30',
  data: { kind: 'live', key: 'a.b', path: '/proc/sys/a/b', value: '30' },
};
const fileChange: Change = {
  summary: 'persist',
  target: '/etc/sysctl.d/x.conf',
  effect: 'persistent',
  diff: { path: '/etc/sysctl.d/x.conf', before: null, after: 'a.b = 30\n' },
  data: {},
};
const noRestore = { name: 'mode_only' } as Module;
const modules = new Map<string, Module>([
  ['sysctl', sysctl],
  ['mode_only', noRestore],
]);
const task = (t: Partial<RecordHost['tasks'][number]>) => ({
  play: 0,
  task: 'timers',
  module: 'sysctl',
  handler: false,
  args: { values: { 'a.b': 30 } },
  changes: [liveChange, fileChange],
  pending: [],
  result: 'applied' as const,
  ...t,
});

describe('restoreSteps: what undoing a recorded host takes', () => {
  it('live values through the module, then the file restored by the engine to its absence', () => {
    const { steps, refusals } = restoreSteps({ result: 'ok', tasks: [task({})] }, modules);
    expect(refusals).toEqual([]);
    expect(steps.map((s) => [s.module.name, s.task.restore ?? false, s.task.args])).toEqual([
      ['sysctl', true, { values: { 'a.b': 30 } }],
      [RESTORE_FILE_MODULE.name, false, { path: '/etc/sysctl.d/x.conf', expect: 'a.b = 30\n', content: null }],
    ]);
    expect(steps[0].task.changes[0]).toMatchObject({ target: 'sysctl:a.b', before: '30', after: '60' });
  });

  it('newest task first; failed tasks are left with a note', () => {
    const later = task({
      task: 'later',
      changes: [{ ...liveChange, target: 'sysctl:c.d', data: { kind: 'live', key: 'c.d', path: '/proc/sys/c/d', value: '1' } }],
    });
    const { steps, notes } = restoreSteps(
      { result: 'failed', tasks: [task({}), later, task({ task: 'broken', result: 'failed' })] },
      modules,
    );
    expect(steps[0].task.task).toBe('rollback later');
    expect(notes).toEqual(['broken: failed during the run (its module restores what it had changed); not rolled back']);
  });

  it('refuses, naming the module, a change nothing can restore', () => {
    const chmod: Change = { summary: 'chmod', target: '/etc/x:mode', effect: 'persistent', before: '0600', after: '0644' };
    const { refusals } = restoreSteps({ result: 'ok', tasks: [task({ module: 'mode_only', task: 'perm', changes: [chmod] })] }, modules);
    expect(refusals).toEqual(['mode_only: cannot restore /etc/x:mode (task "perm"): the module has no restore for this change']);
  });

  it('the engine file restore plans nothing when already restored and refuses content edited since the run', () => {
    const args = { path: '/etc/x', expect: 'run\n', content: 'old\n' };
    expect(RESTORE_FILE_MODULE.plan(args, { content: 'old\n' }).changes).toEqual([]);
    expect(RESTORE_FILE_MODULE.plan(args, { content: 'run\n' }).changes[0]).toMatchObject({
      target: '/etc/x',
      diff: { before: 'run\n', after: 'old\n' },
    });
    expect(() => RESTORE_FILE_MODULE.plan(args, { content: 'edited\n' })).toThrow(/changed since the run/);
  });
});
