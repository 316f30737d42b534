// Redaction of secrets (issue 15, finding 7): what plain output, run records and saved plans keep
// of a secret task and of the values of secret vars.

import { describe, expect, test } from 'vitest';
import type { ChangeRecord, RunEvent } from '../../src/events.js';
import type { Change } from '../../src/module.js';
import type { PlannedTask } from '../../src/engine/types.js';
import { plainRenderer } from '../../src/output/plain.js';
import { noColors } from '../../src/output/format.js';
import { scrubbedSession } from '../../src/commands/session.js';
import {
  PLAN_FORMAT,
  PLAN_VERSION,
  compareSealedChanges,
  parsePlan,
  sealPlan,
  serialisePlan,
  unsealPlan,
  type SavedPlan,
} from '../../src/planfile.js';
import { redactRecord, type RunRecord } from '../../src/records.js';
import { SecretValues, changeDigest, sealChange } from '../../src/secrets.js';

const TOKEN = 's3cr3t-token-value';

const fileChange = (before: string | null, after: string): Change => ({
  summary: 'write /etc/agent/token.conf',
  target: '/etc/agent/token.conf',
  effect: 'persistent',
  diff: { path: '/etc/agent/token.conf', before, after },
  data: { op: 'write', content: after },
});

const task = (over: Partial<PlannedTask>): PlannedTask => ({
  play: 0,
  task: 'token',
  module: 'file',
  handler: false,
  args: { path: '/etc/agent/token.conf', content: `token=${TOKEN}\n` },
  changes: [fileChange('token=old\n', `token=${TOKEN}\n`)],
  pending: [],
  ...over,
});

const secrets = () => {
  const s = new SecretValues();
  s.addVars({ api_token: TOKEN, other: 'not secret' }, ['api_token']);
  return s;
};

describe('SecretValues', () => {
  test('replaces every occurrence, longest value first, and numbers given by -e', () => {
    const s = new SecretValues();
    s.addVars({ a: 'abc', b: 'abcdef', pin: 1234, list: ['x-one', { y: 'y-two' }] }, ['a', 'b', 'pin', 'list']);
    expect(s.scrub('abcdef abc 1234 x-one y-two')).toBe('<redacted> <redacted> <redacted> <redacted> <redacted>');
    expect(s.scrubDeep({ n: 1234, t: ['abcdef!'] })).toEqual({ n: '<redacted>', t: ['<redacted>!'] });
    expect(s.appearsIn({ content: 'pin=1234\n' })).toBe(true);
    expect(s.appearsIn({ content: 'pin=5678\n' })).toBe(false);
  });

  test('variables not named, empty values and unknown names are not secret', () => {
    const s = new SecretValues();
    s.addVars({ a: '', b: 'visible' }, ['a', 'missing']);
    expect(s.size).toBe(0);
    expect(s.scrub('visible')).toBe('visible');
  });
});

describe('plain output through a scrubbed session', () => {
  test('a change whose before/after hold a secret value prints <redacted>', () => {
    const lines: string[] = [];
    const s = secrets();
    const session = scrubbedSession(
      { io: { stdout: (l) => lines.push(l), stderr: (l) => lines.push(l), tty: false }, style: noColors, setCode: () => undefined },
      s,
    );
    const change: ChangeRecord = {
      host: 'hv1',
      task: 'agent',
      module: 'sysctl',
      summary: 'set agent.key',
      target: 'x',
      effect: 'live',
      before: 'none',
      after: TOKEN,
      diff: `--- a/etc/x\n+++ b/etc/x\n@@ -1 +1 @@\n-none\n+${TOKEN}\n`,
      warnings: [],
    };
    const r = plainRenderer(session.io.stdout, { diff: true, verbose: true, style: noColors });
    const done: RunEvent = {
      type: 'task-done',
      host: 'hv1',
      id: 1,
      task: 'agent',
      module: 'sysctl',
      status: 'changed',
      changes: [change],
      pending: [],
      warnings: [],
      handler: false,
    };
    r.handle(done);
    r.handle({ type: 'play-end', play: 'p' }); // diffs are printed at the play's end, once per distinct diff
    const text = lines.join('\n');
    expect(text).toContain('set agent.key: "none" → "<redacted>"');
    expect(text).toContain('+<redacted>');
    expect(text).not.toContain(TOKEN);
  });
});

describe('sealed changes', () => {
  test('keep target, effect and summary; contents and data become <redacted> and a digest', () => {
    const c = fileChange('token=old\n', `token=${TOKEN}\n`);
    const sealed = sealChange(c);
    expect(sealed).toEqual({
      summary: c.summary,
      target: c.target,
      effect: 'persistent',
      diff: { path: c.target, before: '<redacted>', after: '<redacted>' },
      data: '<redacted>',
      digest: changeDigest(c),
    });
    expect(JSON.stringify(sealed)).not.toContain(TOKEN);
  });

  test('compareSealedChanges: the same change is fresh; another content or a missing change is stale, without values', () => {
    const saved = [sealChange(fileChange('token=old\n', `token=${TOKEN}\n`))];
    expect(compareSealedChanges(saved, [fileChange('token=old\n', `token=${TOKEN}\n`)])).toEqual([]);
    const moved = compareSealedChanges(saved, [fileChange('token=edited\n', `token=${TOKEN}\n`)]);
    expect(moved).toEqual(['/etc/agent/token.conf: changed since the plan (secret task: values not shown)']);
    expect(compareSealedChanges(saved, [])[0]).toContain('no longer needs the planned change');
  });
});

describe('run records', () => {
  const record = (): RunRecord => ({
    format: 'hvtune-run',
    version: 1,
    id: 'abcd0123',
    command: 'play',
    startedAt: '2026-11-30T00:00:00.000Z',
    finishedAt: '2026-11-30T00:00:01.000Z',
    inputs: { playbook: null, inventory: { path: '/inv.yml', sha256: null }, templates: [] },
    hosts: {
      hv1: {
        result: 'ok',
        tasks: [
          { ...task({ secret: true }), result: 'applied' },
          {
            ...task({ task: 'log line', module: 'command', args: { argv: ['logger', `rotated ${TOKEN}`] }, changes: [] }),
            result: 'applied',
          },
        ],
      },
    },
  });

  test('a secret task keeps no args and sealed changes; the values are redacted everywhere else', () => {
    const out = redactRecord(record(), secrets());
    const text = JSON.stringify(out);
    expect(text).not.toContain(TOKEN);
    expect(out.hosts.hv1.tasks[0]).toMatchObject({ secret: true, args: '<redacted>', result: 'applied' });
    expect(out.hosts.hv1.tasks[0].changes[0].digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out.hosts.hv1.tasks[1].args).toEqual({ argv: ['logger', 'rotated <redacted>'] });
  });

  test('a secret task is sealed even when no secret var is known (no_log on literal content)', () => {
    expect(JSON.stringify(redactRecord(record()).hosts.hv1.tasks[0])).not.toContain(TOKEN);
  });
});

describe('saved plans', () => {
  const plan = (): SavedPlan => ({
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    kind: 'plan',
    createdAt: '2026-11-30T00:00:00.000Z',
    inputs: { playbook: null, inventory: { path: '/inv.yml', sha256: null }, templates: [] },
    options: { tags: [], skipTags: [], extraVars: { api_token: TOKEN, pin: 42 } },
    hosts: { hv1: { facts: { hostname: 'hv1' } as never, tasks: [task({ secret: true }), task({ task: 'plain' })] } },
  });

  test('hold markers instead of secret values, extra vars included, and still parse', () => {
    const text = serialisePlan(sealPlan(plan(), secrets()));
    expect(text).not.toContain(TOKEN);
    const parsed = parsePlan(text, 'plan.json');
    const id = Object.keys(parsed.secrets!)[0];
    expect(parsed.secrets).toEqual({ [id]: 'api_token' });
    expect(parsed.options.extraVars).toEqual({ api_token: `<secret:${id}>`, pin: 42 });
    expect(parsed.hosts.hv1.tasks[1].args).toEqual({ path: '/etc/agent/token.conf', content: `token=<secret:${id}>\n` });
    expect(parsed.hosts.hv1.tasks[0].changes[0].data).toBe('<redacted>');
  });

  test('unsealPlan puts the values back from -e; a missing or other value is refused naming the variable', () => {
    const sealed = parsePlan(serialisePlan(sealPlan(plan(), secrets())), 'plan.json');
    const back = unsealPlan(sealed, ['unrelated', TOKEN], 'plan.json');
    expect(back.options.extraVars.api_token).toBe(TOKEN);
    expect(back.hosts.hv1.tasks[1]).toEqual(task({ task: 'plain' }));
    expect(() => unsealPlan(sealed, [], 'plan.json')).toThrow(
      'plan.json: the plan holds secret values it does not keep: give -e api_token=… again',
    );
    expect(() => unsealPlan(sealed, ['s3cr3t-token-valuE'], 'plan.json')).toThrow('-e api_token=…');
  });

  test('a plan without secrets is saved as it was', () => {
    const p = plan();
    p.hosts.hv1.tasks = [task({ task: 'plain' })];
    expect(sealPlan(p)).toEqual(p);
  });
});
