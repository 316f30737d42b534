// `hvtune show PLAN.json` (issue 17): a saved plan printed as check mode would, its signature
// verified first; identical diffs printed once with their hosts; `apply --limit` that selects none
// of the plan's hosts refused before connecting. No host is contacted here.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.js';
import { PLAN_FORMAT, PLAN_VERSION, sealPlan, type SavedPlan } from '../../../src/planfile.js';
import { PLAN_KEY_ENV, planKey, signedPlanText } from '../../../src/plan-signature.js';
import type { PlannedTask } from '../../../src/engine/types.js';

const dir = mkdtempSync(join(tmpdir(), 'hvtune-show-'));
const keyFile = join(dir, 'plan.key');
const before = process.env[PLAN_KEY_ENV];
beforeAll(() => void (process.env[PLAN_KEY_ENV] = keyFile));
afterAll(() => {
  if (before === undefined) delete process.env[PLAN_KEY_ENV];
  else process.env[PLAN_KEY_ENV] = before;
  rmSync(dir, { recursive: true, force: true });
});

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: (s) => out.push(s), stderr: (s) => err.push(s), tty: false });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const facts = (h: string) => ({ hostname: h, kernel: { release: '6.1', version: [6, 1, 0] as [number, number, number] } });
const FILE = '/etc/sysctl.d/60-tcp.conf';
const fileTask = (after: string): PlannedTask => ({
  play: 0,
  task: 'tcp file',
  module: 'sysctl',
  handler: false,
  args: {},
  changes: [
    { summary: 'set net.ipv4.tcp_fin_timeout', target: 'sysctl:net.ipv4.tcp_fin_timeout', effect: 'live', before: '60', after: '30' },
    { summary: `write ${FILE}`, target: FILE, effect: 'persistent', diff: { path: FILE, before: '# tcp\n', after } },
  ],
  pending: [],
});
const grubTask: PlannedTask = {
  play: 1,
  task: 'cmdline',
  module: 'grub_cmdline',
  handler: false,
  args: {},
  changes: [
    {
      summary: 'add iommu=pt',
      target: '/etc/default/grub',
      effect: 'reboot',
      diff: { path: '/etc/default/grub', before: 'A\n', after: 'B\n' },
    },
  ],
  pending: [],
};
const secretTask: PlannedTask = {
  play: 0,
  task: 'token',
  module: 'file',
  handler: false,
  secret: true,
  args: {},
  changes: [
    {
      summary: 'write /etc/agent/token',
      target: '/etc/agent/token',
      effect: 'persistent',
      diff: { path: '/etc/agent/token', before: null, after: 'TOKEN-VALUE\n' },
    },
  ],
  pending: [],
};

const plan: SavedPlan = {
  format: PLAN_FORMAT,
  version: PLAN_VERSION,
  kind: 'plan',
  createdAt: '2026-11-30T12:00:00.000Z',
  plays: ['tcp', 'boot'],
  inputs: { playbook: null, inventory: { path: join(dir, 'inv.yml'), sha256: null }, templates: [] },
  options: { tags: [], skipTags: [], extraVars: {} },
  hosts: {
    hv1: { facts: facts('hv1'), tasks: [fileTask('# tcp\nnet.ipv4.tcp_fin_timeout = 30\n'), grubTask] },
    hv2: { facts: facts('hv2'), tasks: [fileTask('# tcp\nnet.ipv4.tcp_fin_timeout = 30\n'), secretTask] },
    hv3: { facts: facts('hv3'), tasks: [fileTask('# tcp\nnet.ipv4.tcp_fin_timeout = 31\n')] },
  },
};
const planFile = join(dir, 'plan.json');
const count = (text: string, part: string) => text.split(part).length - 1;

describe('hvtune show', () => {
  beforeAll(() => writeFileSync(planFile, signedPlanText(sealPlan(plan), planKey(keyFile))));

  it('prints every change as check mode would, with the summary line; a sealed task stays sealed', async () => {
    const r = await cli(['show', planFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('PLAY [tcp] on 3 host(s) (check mode)');
    expect(r.stdout).toContain('PLAY [boot] on 1 host(s) (check mode)');
    expect(r.stdout).toContain('hv1 | tcp file | changed\n    set net.ipv4.tcp_fin_timeout: "60" → "30"');
    expect(r.stdout).toContain('hv1 | cmdline | changed\n    add iommu=pt [needs a reboot]');
    expect(r.stdout).toContain('hv2 | token | changed\n    write /etc/agent/token (sealed: secret task)');
    expect(r.stdout).not.toContain('TOKEN-VALUE');
    expect(r.stdout).not.toContain('+++ b'); // no --diff
    expect(r.stdout.split('\n').at(-1)).toBe('Plan: 8 changes on 3 of 3 hosts, 1 pending reboot, 0 failed');
  });

  it('--diff prints each distinct diff once, with the hosts that get it', async () => {
    const r = await cli(['show', planFile, '--diff']);
    console.log(r.stdout);
    expect(r.code, r.stderr).toBe(0);
    expect(count(r.stdout, `same diff on hv1, hv2:\n    --- a${FILE}\n    +++ b${FILE}`)).toBe(1);
    expect(count(r.stdout, '+net.ipv4.tcp_fin_timeout = 30')).toBe(1);
    expect(r.stdout).toContain('diff on hv3:');
    expect(count(r.stdout, '+net.ipv4.tcp_fin_timeout = 31')).toBe(1);
    expect(r.stdout).toContain('diff on hv2:\n    --- a/etc/agent/token\n    +++ b/etc/agent/token\n    # diff not shown: secret task');
    expect(r.stdout).not.toContain('TOKEN-VALUE');
  });

  it('--json: the report check mode prints, with its summary and the plan it came from', async () => {
    const r = await cli(['show', planFile, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.plan).toMatchObject({ file: planFile, kind: 'plan', createdAt: '2026-11-30T12:00:00.000Z' });
    expect(j.summary).toMatchObject({ check: true, hosts: 3, changes: 8, changedHosts: 3, pendingReboots: 1, failedHosts: 0 });
    expect(j.recap.hv1.pending).toEqual([{ effect: 'reboot', target: '/etc/default/grub', summary: 'add iommu=pt' }]);
    expect(j.changes.filter((c: { host: string }) => c.host === 'hv3')).toHaveLength(2);
    expect(r.stdout).not.toContain('TOKEN-VALUE');
  });

  it('refuses a plan edited after it was signed', async () => {
    const edited = join(dir, 'edited.json');
    writeFileSync(edited, readFileSync(planFile, 'utf8').replace('"after": "30"', '"after": "5"'));
    const r = await cli(['show', edited]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the plan was changed after hvtune signed it');
    expect(r.stdout).toBe('');
  });
});

describe('hvtune apply --limit', () => {
  it("a pattern that selects none of the plan's hosts is an input error, before any connection", async () => {
    // hv4 exists in the inventory but not in the plan; the addresses are TEST-NET: nothing answers
    const inv = join(dir, 'inv.yml');
    writeFileSync(
      inv,
      'all:\n  hosts:\n    hv1: { address: 192.0.2.1 }\n    hv2: { address: 192.0.2.2 }\n    hv4: { address: 192.0.2.4 }\n',
    );
    const started = Date.now();
    const r = await cli(['apply', planFile, '-i', inv, '--limit', 'hv4', '--records', join(dir, 'runs')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--limit: "hv4" selects none of the plan's hosts (hv1, hv2, hv3)`);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
