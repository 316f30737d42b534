// Secrets (issue 15, finding 7): a token written by a `secret: true` task from a play's secret var
// reaches the host, and nothing hvtune prints or saves holds it — --diff, -v, --json, the run
// record, the saved plan — while the plan still applies (given the value again) and a second run
// changes nothing.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { hvtune, labFile, play } from '../play.js';

const lab = useLab({ hosts: 1 });

const TOKEN = 'tok-3f9a1c7e5b2d48aa';
const TOKEN2 = 'tok-9b7e2a4c6d1f03ee';
const LITERAL = 'literal-4e1d9c2b77';
const DIR = '/etc/hvtune-secret-test';

const PLAYBOOK = `
- name: agent credentials
  hosts: lab
  secret_vars: [api_token]
  tasks:
    - name: token file
      secret: true
      file: { path: ${DIR}/token.conf, content: "token={{api_token}}\\n", mode: "0600" }
    - name: token in the agent config (not marked, but rendered from a secret var)
      lineinfile: { path: ${DIR}/agent.conf, regexp: "^token=", line: "token={{api_token}}", create: true }
`;

const NO_LOG = `
- name: no_log, the Ansible spelling
  hosts: lab
  tasks:
    - name: literal secret
      no_log: true
      file: { path: ${DIR}/literal.conf, content: "key=${LITERAL}\\n", mode: "0600" }
`;

const conn = () => ['-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath];
const records = () => join(lab().dir, 'runs');
const allRecords = () =>
  readdirSync(records())
    .map((f) => readFileSync(join(records(), f), 'utf8'))
    .join('\n');

describe('secret tasks and secret vars', () => {
  it('check mode with --diff and -v shows which files change, never the token', async () => {
    const file = labFile(lab(), 'site.yml', PLAYBOOK);
    const r = await hvtune(['play', file, ...conn(), '--check', '--diff', '-v', '-e', `api_token=${TOKEN}`]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain(`--- a${DIR}/token.conf`);
    expect(r.stdout).toContain('# diff not shown: secret task');
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    expect(r.stdout + r.stderr).not.toContain(TOKEN.slice(4));

    const j = await play(lab(), PLAYBOOK, { check: true, diff: true, args: ['-e', `api_token=${TOKEN}`] });
    expect(j.stdout).not.toContain(TOKEN);
    expect(j.report.changes.map((c) => [c.target, c.diff])).toEqual([
      [`${DIR}/token.conf`, `--- a${DIR}/token.conf\n+++ b${DIR}/token.conf\n# diff not shown: secret task\n`],
      [`${DIR}/agent.conf`, `--- a${DIR}/agent.conf\n+++ b${DIR}/agent.conf\n# diff not shown: secret task\n`],
    ]);
    expect(await lab().readFile(lab().hosts[0], `${DIR}/token.conf`)).toBeNull();
  });

  it('a saved plan keeps no token, needs it again to apply, and puts it on the host', async () => {
    const h = lab().hosts[0];
    const file = labFile(lab(), 'site.yml', PLAYBOOK);
    const planFile = join(lab().dir, 'secret-plan.json');
    const planned = await hvtune(['plan', file, ...conn(), '-o', planFile, '-e', `api_token=${TOKEN}`]);
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    const text = readFileSync(planFile, 'utf8');
    expect(text).not.toContain(TOKEN);
    const plan = JSON.parse(text);
    expect(Object.values(plan.secrets)).toEqual(['api_token']);
    expect(plan.options.extraVars.api_token).toMatch(/^<secret:[0-9a-f]{16}>$/);
    expect(plan.hosts[h.name].tasks[0].changes[0].digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const without = await hvtune(['apply', planFile, '--known-hosts', lab().knownHostsPath, '--records', records()]);
    expect(without.code).toBe(1);
    expect(without.stderr + without.stdout).toContain('give -e api_token=… again');
    expect(await lab().readFile(h, `${DIR}/token.conf`)).toBeNull();

    const wrong = await hvtune(['apply', planFile, '--known-hosts', lab().knownHostsPath, '-e', 'api_token=not-the-one']);
    expect(wrong.code).toBe(1);
    expect(await lab().readFile(h, `${DIR}/token.conf`)).toBeNull();

    const applied = await hvtune([
      'apply',
      planFile,
      '--known-hosts',
      lab().knownHostsPath,
      '--records',
      records(),
      '-e',
      `api_token=${TOKEN}`,
    ]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout + applied.stderr).not.toContain(TOKEN);
    expect(await lab().readFile(h, `${DIR}/token.conf`)).toBe(`token=${TOKEN}\n`);
    expect(await lab().readFile(h, `${DIR}/agent.conf`)).toBe(`token=${TOKEN}\n`);
    expect((await lab().exec(h, ['stat', '-c', '%a', `${DIR}/token.conf`])).stdout.trim()).toBe('600');
    expect(allRecords()).not.toContain(TOKEN);

    const again = await play(lab(), PLAYBOOK, { args: ['-e', `api_token=${TOKEN}`] });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.report.changes).toEqual([]);
  });

  it('a play that changes the token: the host has it, the record and --json do not, rollback refuses', async () => {
    const h = lab().hosts[0];
    const r = await play(lab(), PLAYBOOK, { diff: true, args: ['-e', `api_token=${TOKEN2}`] });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report.changes).toHaveLength(2);
    expect(r.stdout + r.stderr).not.toContain(TOKEN2);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    expect(await lab().readFile(h, `${DIR}/token.conf`)).toBe(`token=${TOKEN2}\n`);
    const recordPath = r.stderr.match(/run record: (\S+)/)![1];
    const record = readFileSync(recordPath, 'utf8');
    expect(record).not.toContain(TOKEN2);
    expect(record).not.toContain(TOKEN);
    expect(JSON.parse(record).hosts[h.name].tasks[0]).toMatchObject({ secret: true, args: '<redacted>', result: 'applied' });

    const undoFile = join(lab().dir, 'undo.json');
    const undo = await hvtune(['rollback', recordPath, '-o', undoFile, '-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath]);
    expect(undo.code).toBe(1);
    expect(undo.stderr).toContain('a secret task: the run record keeps no values or contents of it');

    const again = await play(lab(), PLAYBOOK, { args: ['-e', `api_token=${TOKEN2}`] });
    expect(again.report.changes).toEqual([]);
  });

  it('no_log: true hides a literal written in the playbook from output and record', async () => {
    const h = lab().hosts[0];
    const planned = await hvtune(['plan', labFile(lab(), 'nolog.yml', NO_LOG), ...conn(), '-o', join(lab().dir, 'nolog-plan.json')]);
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    expect(planned.stdout).not.toContain(LITERAL);
    expect(planned.stderr).toContain(
      'warning: literal secret: a secret task whose arguments hold no secret var: they are saved in the plan',
    );
    const r = await play(lab(), NO_LOG, { diff: true });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(LITERAL);
    expect(await lab().readFile(h, `${DIR}/literal.conf`)).toBe(`key=${LITERAL}\n`);
    expect(readFileSync(r.stderr.match(/run record: (\S+)/)![1], 'utf8')).not.toContain(LITERAL);
    expect((await play(lab(), NO_LOG)).report.changes).toEqual([]);
  });

  it('snapshot leaves the secret tasks out; drift names what drifted, not the values', async () => {
    const file = labFile(lab(), 'site.yml', PLAYBOOK);
    const base = join(lab().dir, 'secret-baselines');
    const snap = await hvtune(['snapshot', file, ...conn(), '-o', base, '-e', `api_token=${TOKEN2}`]);
    expect(snap.code, snap.stdout + snap.stderr).toBe(0);
    expect(snap.stderr).toContain('note: token file: a secret task, not in the baselines');
    const baseline = readdirSync(base)
      .map((f) => readFileSync(join(base, f), 'utf8'))
      .join('\n');
    expect(baseline).not.toContain(TOKEN2);
    expect(baseline).not.toContain('token.conf');

    const drift = await hvtune(['drift', file, ...conn(), '--json', '-e', `api_token=${TOKEN}`]);
    expect(drift.code, drift.stdout + drift.stderr).toBe(2);
    expect(drift.stdout).not.toContain(TOKEN);
    expect(drift.stdout).not.toContain(TOKEN2);
    const items = JSON.parse(drift.stdout).hosts[lab().hosts[0].name].items;
    expect(items.map((i: { setting: string }) => i.setting)).toEqual([`${DIR}/token.conf`, `${DIR}/agent.conf`]);
    expect(items[0]).toMatchObject({ expected: '<redacted>', actual: '<redacted>' });
  });

  it('an unmarked edit of a file that already holds the token is secret too (its record could not be rolled back otherwise)', async () => {
    const h = lab().hosts[0];
    const edit = `
- name: agent debug
  hosts: lab
  secret_vars: [api_token]
  tasks:
    - name: debug on
      lineinfile: { path: ${DIR}/agent.conf, line: "debug=1" }
`;
    const r = await play(lab(), edit, { diff: true, args: ['-e', `api_token=${TOKEN2}`] });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(TOKEN2);
    expect(r.report.changes[0].diff).toContain('# diff not shown: secret task');
    expect(await lab().readFile(h, `${DIR}/agent.conf`)).toBe(`token=${TOKEN2}\ndebug=1\n`);
    const recordPath = r.stderr.match(/run record: (\S+)/)![1];
    expect(readFileSync(recordPath, 'utf8')).not.toContain(TOKEN2);
    const undo = await hvtune([
      'rollback',
      recordPath,
      '-o',
      join(lab().dir, 'undo2.json'),
      '-i',
      lab().inventoryPath,
      '--known-hosts',
      lab().knownHostsPath,
    ]);
    expect(undo.code).toBe(1);
    expect(await lab().readFile(h, `${DIR}/agent.conf`)).toBe(`token=${TOKEN2}\ndebug=1\n`);
  });
});
