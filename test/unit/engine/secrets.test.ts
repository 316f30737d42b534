// The engine's part of secrets (issue 15, finding 7): a secret task's change records carry no
// values or contents, its planned task is marked secret, and what --json and --diff print of a run
// holds no secret value. The host is this machine's /bin/sh on files in a scratch dir.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/events.js';
import type { Module } from '../../../src/module.js';
import file from '../../../modules/file.js';
import { jsonRenderer } from '../../../src/output/json.js';
import { plainRenderer } from '../../../src/output/plain.js';
import { noColors } from '../../../src/output/format.js';
import { SecretValues } from '../../../src/secrets.js';
import { runLocal } from './local-run.js';

const dir = mkdtempSync(join(tmpdir(), 'hvtune-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'tok-77c1e0b9a4d2';
const LITERAL = 'lit-5a3e9f0c11';
const modules = new Map<string, Module>([['file', file as unknown as Module]]);

async function run(check: boolean) {
  const events: RunEvent[] = [];
  const printed: string[] = [];
  const secrets = new SecretValues();
  const json = jsonRenderer((s) => printed.push(secrets.scrub(s)));
  const plain = plainRenderer((s) => printed.push(secrets.scrub(s)), { diff: true, verbose: true, style: noColors });
  const report = await runLocal(
    modules,
    [
      `{ name: marked, secret: true, file: { path: ${dir}/literal.conf, content: "key=${LITERAL}\\n" } }`,
      `{ name: from a secret var, file: { path: ${dir}/token.conf, content: "token={{api_token}}\\n" } }`,
      `{ name: plain, file: { path: ${dir}/plain.conf, content: "plain=1\\n" } }`,
    ],
    {
      check,
      play: ['secret_vars: [api_token]', `vars: { api_token: ${TOKEN} }`],
      secrets,
      onEvent: (e) => {
        events.push(e);
        json.handle(e);
        plain.handle(e);
      },
    },
  );
  return { report, events, printed: printed.join('\n') };
}

describe('secret tasks in the engine', () => {
  it('check mode: records and printed output carry targets and summaries, no values or contents', async () => {
    const { report, events, printed } = await run(true);
    expect(report.changes.map((c) => [c.task, c.target])).toEqual([
      ['marked', `${dir}/literal.conf`],
      ['from a secret var', `${dir}/token.conf`],
      ['plain', `${dir}/plain.conf`],
    ]);
    expect(report.changes[0].diff).toBe(`--- a${dir}/literal.conf\n+++ b${dir}/literal.conf\n# diff not shown: secret task\n`);
    expect(report.changes[2].diff).toContain('+plain=1');
    expect(printed).toContain('+plain=1');
    expect(printed).not.toContain(LITERAL);
    expect(printed).not.toContain(TOKEN);
    const planned = events.flatMap((e) => (e.type === 'task-planned' ? [[e.planned.task, e.planned.secret ?? false]] : []));
    expect(planned).toEqual([
      ['marked', true],
      ['from a secret var', true],
      ['plain', false],
    ]);
  });

  it('apply writes the real contents; a second run changes nothing', async () => {
    expect((await run(false)).report.failures).toEqual([]);
    expect(readFileSync(join(dir, 'literal.conf'), 'utf8')).toBe(`key=${LITERAL}\n`);
    expect(readFileSync(join(dir, 'token.conf'), 'utf8')).toBe(`token=${TOKEN}\n`);
    expect((await run(false)).report.changes).toEqual([]);
  });
});
