// What the recap lists as pending after a change: a reboot stays pending once made; a reload or a
// restart that apply performs does not (check mode lists both: that is what apply would do). The
// host is this machine's /bin/sh on files in a scratch dir; the modules are test input.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Change, Module } from '../../../src/module.js';
import { runLocal } from './local-run.js';

const dir = mkdtempSync(join(tmpdir(), 'hvtune-pending-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A module that writes `done` into a file, with the effect it is given. */
function marker(name: string, effect: Change['effect']): Module<{ path: string }, string | null> {
  return {
    name,
    description: `writes a marker (${effect})`,
    schema: { type: 'object', additionalProperties: false, required: ['path'], properties: { path: { type: 'string' } } },
    read: (args) => [{ kind: 'file', path: args.path }],
    parse: (_args, [r]) => (r.kind === 'file' ? r.content : null),
    plan: (args, observed) => ({
      changes: observed === 'done' ? [] : [{ summary: `mark ${args.path}`, target: `${name}:${args.path}`, effect }],
    }),
    apply: async (_changes, host, args) => {
      await host.writeFile(args.path, 'done', { backup: false });
    },
  };
}

const modules = new Map<string, Module>([
  ['reload_marker', marker('reload_marker', 'module-reload')],
  ['reboot_marker', marker('reboot_marker', 'reboot')],
]);

async function run(check: boolean) {
  return runLocal(
    modules,
    [`{ name: reload, reload_marker: { path: ${dir}/reload } }`, `{ name: reboot, reboot_marker: { path: ${dir}/reboot } }`],
    { check },
  );
}

describe('pending after a change', () => {
  it('check mode lists the reload and the reboot it would need', async () => {
    const report = await run(true);
    expect(report.recap.local.pending.map((p) => p.effect).sort()).toEqual(['module-reload', 'reboot']);
  });

  it('after apply only the reboot is pending: apply did the reload', async () => {
    const report = await run(false);
    expect(readFileSync(join(dir, 'reload'), 'utf8')).toBe('done');
    expect(report.recap.local.changed).toBe(2);
    expect(report.recap.local.pending.map((p) => p.effect)).toEqual(['reboot']);
  });
});
