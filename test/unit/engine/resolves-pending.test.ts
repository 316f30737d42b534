// A change that makes pending items live (a reboot): the engine clears them from the recap and
// reads the host's earlier tasks again, and a task still pending fails the change. The host is
// this machine's /bin/sh on files in a scratch dir; the modules are test input: a boot-time setting
// pending until its file says "live", and a stand-in "reboot" that writes the file (or not).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Module } from '../../../src/module.js';
import { runLocal } from './local-run.js';

const dir = mkdtempSync(join(tmpdir(), 'hvtune-resolves-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const STATE = join(dir, 'boot-state');

const bootSetting: Module<{ path: string }, string | null> = {
  name: 'boot_setting',
  description: 'pending a reboot until its file says live',
  schema: { type: 'object', additionalProperties: false, required: ['path'], properties: { path: { type: 'string' } } },
  read: (args) => [{ kind: 'file', path: args.path }],
  parse: (_args, [r]) => (r.kind === 'file' ? r.content : null),
  plan: (args, observed) => ({
    changes: [],
    pending: observed === 'live' ? [] : [{ effect: 'reboot', target: `boot:${args.path}`, summary: 'not live until a reboot' }],
  }),
  apply: async () => undefined,
};

/** Stands in for the reboot module: planned only when a reboot is pending; "boots" by writing content. */
const fakeReboot: Module<{ path: string; content: string }, null> = {
  name: 'fake_reboot',
  description: 'a stand-in reboot',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path', 'content'],
    properties: { path: { type: 'string' }, content: { type: 'string' } },
  },
  read: () => [],
  parse: () => null,
  plan: (_args, _observed, ctx) => ({
    changes: (ctx.pending ?? []).some((p) => p.effect === 'reboot')
      ? [{ summary: 'reboot', target: 'reboot:local', effect: 'reboot' }]
      : [],
  }),
  apply: async (_changes, host, args) => {
    await host.writeFile(args.path, args.content, { backup: false });
  },
  resolvesPending: ['reboot'],
};

const modules = new Map<string, Module>([
  ['boot_setting', bootSetting],
  ['fake_reboot', fakeReboot],
]);

async function run(check: boolean, bootWrites: string) {
  return runLocal(
    modules,
    [`{ name: setting, boot_setting: { path: ${STATE} } }`, `{ name: reboot, fake_reboot: { path: ${STATE}, content: ${bootWrites} } }`],
    { check },
  );
}

describe('a change that resolves pending items', () => {
  beforeEach(() => writeFileSync(STATE, 'persisted'));

  it('check mode plans it and keeps the items pending', async () => {
    const r = await run(true, 'live');
    expect(r.changes.map((c) => c.target)).toEqual(['reboot:local']);
    expect(r.recap.local.pending.map((p) => p.target)).toEqual(['boot:' + STATE, 'reboot:local']);
  });

  it('applied and verified: nothing is pending afterwards, and a second run plans no reboot', async () => {
    const r = await run(false, 'live');
    expect(r.failures).toEqual([]);
    expect(r.recap.local).toMatchObject({ changed: 1, failed: 0, pending: [] });
    expect(r.pending).toEqual([]);
    const again = await run(false, 'live');
    expect(again.changes).toEqual([]);
    expect(again.recap.local.pending).toEqual([]);
  });

  it('an item still pending after it fails the change, naming the task', async () => {
    const r = await run(false, 'persisted');
    expect(r.recap.local.failed).toBe(1);
    expect(r.failures[0]).toMatchObject({ task: 'reboot' });
    expect(r.failures[0].message).toMatch(/after it, still not live:\n {2}setting: not live until a reboot/);
  });
});
