import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModules } from '../../../modules/index.js';
import type { Change } from '../../../src/module.js';
import {
  PLAN_VERSION,
  changedInputs,
  compareChanges,
  hashFile,
  parsePlan,
  inventorySourcesOf,
  planInputs,
  serialisePlan,
  sha256,
  type SavedPlan,
} from '../../../src/planfile.js';
import { loadPlaybook } from '../../../src/playbook.js';

const live = (target: string, before: string | null, after: string): Change => ({
  summary: `set ${target}`,
  target,
  effect: 'live',
  before,
  after,
  data: { value: after },
});
const file = (path: string, before: string | null, after: string | null): Change => ({
  summary: `write ${path}`,
  target: path,
  effect: 'persistent',
  diff: { path, before, after },
});

function samplePlan(): SavedPlan {
  return {
    format: 'hvtune-plan',
    version: PLAN_VERSION,
    kind: 'plan',
    createdAt: '2025-01-01T00:00:00.000Z',
    inputs: {
      playbook: { path: '/p/site.yml', sha256: 'a'.repeat(64) },
      inventory: { path: '/p/inv.yml', sha256: 'b'.repeat(64) },
      templates: [],
    },
    options: { tags: [], skipTags: [], extraVars: { x: 1 } },
    hosts: {
      hv1: {
        facts: { hostname: 'hv1', kernel: { release: '6.1.0', version: [6, 1, 0] } },
        tasks: [
          {
            play: 0,
            task: 'timers',
            module: 'sysctl',
            handler: false,
            args: { values: { 'net.ipv4.tcp_fin_timeout': 30 } },
            changes: [live('sysctl:net.ipv4.tcp_fin_timeout', '60', '30'), file('/etc/sysctl.d/60.conf', null, 'x = 1\n')],
            pending: [],
          },
        ],
      },
    },
  };
}

describe('saved plan file', () => {
  it('round-trips through its JSON text unchanged, change data included', () => {
    const plan = samplePlan();
    const text = serialisePlan(plan);
    expect(text.endsWith('\n')).toBe(true);
    expect(parsePlan(text, 'plan.json')).toEqual(plan);
  });

  it('refuses what is not a plan, naming the file and what was expected', () => {
    expect(() => parsePlan('{', 'p.json')).toThrow(/p\.json: not a saved plan/);
    expect(() => parsePlan('{"format":"other"}', 'p.json')).toThrow(/expected "format": "hvtune-plan"/);
    expect(() => parsePlan(JSON.stringify({ ...samplePlan(), version: 9 }), 'p.json')).toThrow(/version 9/);
    const broken = samplePlan() as unknown as { hosts: { hv1: { tasks: { changes: unknown }[] } } };
    broken.hosts.hv1.tasks[0].changes = [{ summary: 'x' }];
    expect(() => parsePlan(JSON.stringify(broken), 'p.json')).toThrow(/hosts\.hv1\.tasks\[0\]: expected "changes"/);
  });
});

describe('input hashes', () => {
  it('hashes content with sha256 and says which input changed or vanished', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvtune-planfile-'));
    const pb = join(dir, 'site.yml');
    const inv = join(dir, 'inv.yml');
    const tpl = join(dir, 'x.conf.hbs');
    writeFileSync(pb, `- hosts: all\n  tasks:\n    - file: { path: /etc/x, template: x.conf.hbs }\n`);
    writeFileSync(inv, 'all: {}\n');
    writeFileSync(tpl, 'a={{a}}\n');
    expect(hashFile(inv)).toEqual({ path: inv, sha256: sha256('all: {}\n') });
    expect(sha256('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const playbook = loadPlaybook(pb, await loadModules());
    const inputs = planInputs(pb, { file: inv }, playbook);
    expect(inputs.templates).toEqual([{ path: tpl, sha256: sha256('a={{a}}\n') }]);
    expect(changedInputs(inputs)).toEqual([]);
    writeFileSync(pb, '# edited\n');
    writeFileSync(tpl, 'a=2\n');
    expect(changedInputs(inputs)).toEqual([`${pb} changed since the plan was made`, `${tpl} changed since the plan was made`]);
    expect(changedInputs({ ...inputs, inventory: { path: join(dir, 'gone.yml'), sha256: 'c' } })[1]).toMatch(/gone\.yml no longer exists/);
  });

  it('an inventory of several sources and group_vars/: every file read is hashed, the -i list kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvtune-planfile-'));
    const [a, b, gv] = [join(dir, 'a.yml'), join(dir, 'b.ini'), join(dir, 'group_vars/all.yml')];
    for (const f of [a, b]) writeFileSync(f, 'x\n');
    mkdirSync(join(dir, 'group_vars'));
    writeFileSync(gv, 'nic: eth0\n');
    const inputs = planInputs(null, { file: `${a}, ${b}`, sources: [a, b], files: [a, b, gv] });
    expect(inputs.inventory).toEqual({ path: a, sha256: sha256('x\n') });
    expect(inventorySourcesOf(inputs)).toEqual([a, b]);
    expect(inputs.inventoryFiles!.map((f) => f.path)).toEqual([b, gv]);
    writeFileSync(gv, 'nic: eth1\n');
    expect(changedInputs(inputs)).toEqual([`${gv} changed since the plan was made`]);
    expect(inventorySourcesOf(planInputs(null, { file: 'hv1,hv2,' }))).toEqual(['hv1,hv2,']);
  });

  it("asks each task's module for its local files: handlers count, a templated name is known only per host", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvtune-planfile-'));
    const pb = join(dir, 'site.yml');
    writeFileSync(
      pb,
      '- hosts: all\n  tasks:\n    - file: { path: /etc/a, template: a.hbs }\n      notify: h\n    - file: { path: /etc/b, template: "{{ name }}.hbs" }\n' +
        '    - lineinfile: { path: /etc/c, line: "template: c.hbs" }\n  handlers:\n    - name: h\n      file: { path: /etc/d, template: sub/d.hbs }\n',
    );
    const inputs = planInputs(pb, { file: join(dir, 'inv.yml') }, loadPlaybook(pb, await loadModules()));
    expect(inputs.templates.map((t) => t.path)).toEqual([join(dir, 'a.hbs'), join(dir, 'sub/d.hbs')]);
  });
});

describe('compareChanges: is the host still what the plan was computed from?', () => {
  const saved = [live('sysctl:a', '60', '30'), file('/etc/f.conf', 'old\n', 'new\n')];

  it('finds nothing when the same changes are planned again (summaries and data aside)', () => {
    const fresh = saved.map((c) => ({ ...c, summary: 'other words', data: { other: true } }));
    expect(compareChanges(saved, fresh)).toEqual([]);
  });

  it('names the setting whose before moved, and both values', () => {
    expect(compareChanges(saved, [live('sysctl:a', '45', '30'), saved[1]])).toEqual(['sysctl:a: was "60" when planned, is now "45"']);
  });

  it('sees a file edited since the plan', () => {
    expect(compareChanges(saved, [saved[0], file('/etc/f.conf', 'edited\n', 'new\n')])).toEqual([
      '/etc/f.conf: the file changed since the plan',
    ]);
  });

  it('sees a change no longer needed and a change the plan lacks', () => {
    expect(compareChanges(saved, [saved[1], live('sysctl:b', '1', '2')])).toEqual([
      'sysctl:a: no longer needs the planned change ("60" → "30"): it was changed since the plan',
      'sysctl:b: now needs a change the plan does not have ("1" → "2")',
    ]);
  });

  it('sees a different after or effect for the same before', () => {
    expect(compareChanges([live('x', '1', '2')], [live('x', '1', '3')])).toEqual(['x: would now be set to "3", the plan says "2"']);
    expect(compareChanges([live('x', '1', '2')], [{ ...live('x', '1', '2'), effect: 'reboot' }])).toEqual([
      'x: now needs reboot, the plan says live',
    ]);
  });
});
