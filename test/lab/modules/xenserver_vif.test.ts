// xenserver_vif timeline on a tier-1 lab host running the xe simulator (test/sim/xe/xe.mjs,
// installed as /usr/local/bin/xe): no XenServer can run here, so the simulator stands in for xe
// with seed 000's netback allocation model. Through the real CLI, with playbooks/xenserver-netback.yml.

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, hvtune, labFile, play } from '../play.js';

const lab = useLab({ hosts: 1, groups: { xenserver: ['hv1'] } });
const repoFile = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
const playbook = repoFile('playbooks/xenserver-netback.yml');
const STATE = '/var/lib/xe-simulator/state.json';

async function xe(...args: string[]): Promise<string> {
  const r = await lab().exec('hv1', ['xe', ...args]);
  if (r.code !== 0) throw new Error(`xe ${args.join(' ')} (simulator): exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}
const simulatorState = async () => (await lab().readFile('hv1', STATE)) ?? '';
/** Worker of each attached storage VIF after the simulated host restart, in VM order. */
async function storageWorkersAfterHostRestart(): Promise<number[]> {
  await xe('host-disable');
  await xe('host-reboot');
  const lines = (await xe('simulator-netback'))
    .split('\n')
    .slice(2)
    .filter((l) => l.includes(' storage-net '));
  return lines
    .map((l) => l.split(' '))
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map((f) => Number(f[3]));
}

beforeAll(async () => {
  await lab().writeFile('hv1', '/usr/local/bin/xe', repoFile('test/sim/xe/xe.mjs'), 0o755);
  await lab().writeFile('hv1', '/root/seed-000.json', repoFile('test/sim/xe/seed-000.json'));
  await xe('simulator-seed', 'file=/root/seed-000.json');
}, 60_000);

describe('seed 000 on the xe simulator (playbooks/xenserver-netback.yml)', () => {
  test('the simulator reproduces the seed: after a host restart the storage VIFs use workers 2 and 4 only', async () => {
    expect(await storageWorkersAfterHostRestart()).toEqual([2, 4, 2, 4]);
  });

  test('check mode shows the plan and its table, and changes nothing in the simulator', async () => {
    const before = await simulatorState();
    const r = await play(lab(), playbook, { check: true });
    expect(r.code).toBe(2);
    const changes = changesOn(r.report, 'hv1');
    expect(changes.map((c) => [c.target, c.effect])).toEqual([
      ['network:hvtune-dummy', 'persistent'],
      ['vm:vm2/vif/2', 'persistent'],
    ]);
    expect(r.report.recap.hv1.pending.map((p) => p.effect)).toEqual(['reboot']);
    // The table is a plan warning, printed by the plain output.
    const plain = await hvtune([
      'play',
      labFile(lab(), 'xenserver-netback.yml', playbook),
      '-i',
      lab().inventoryPath,
      '--known-hosts',
      lab().knownHostsPath,
      '--check',
    ]);
    expect(plain.code).toBe(2);
    expect(plain.stdout).toContain('start order: vm1, vm2, vm3, vm4');
    expect(plain.stdout).toMatch(/vm2 +\+2 +hvtune-dummy +- +- → 1/);
    expect(plain.stdout).toContain('load per worker: 1:0 2:2 3:0 4:2  →  1:1 2:1 3:1 4:1');
    expect(await simulatorState()).toBe(before);
  });

  test('apply creates the dummy network and VIF; the next host restart is balanced', async () => {
    const r = await play(lab(), playbook);
    expect(r.code).toBe(0);
    expect(r.report.recap.hv1.changed).toBeGreaterThan(0);
    const dummy = (await xe('network-list', 'name-label=hvtune-dummy', '--minimal')).trim();
    expect(dummy).toMatch(/^[0-9a-f-]{36}$/);
    expect((await xe('vif-list', 'vm-name-label=vm2', `network-uuid=${dummy}`, 'params=device', '--minimal')).trim()).toBe('2');
    expect((await storageWorkersAfterHostRestart()).sort()).toEqual([1, 2, 3, 4]);
  });

  test('a second run reports zero changes and nothing pending', async () => {
    const r = await play(lab(), playbook);
    expect(r.code).toBe(0);
    expect(changesOn(r.report, 'hv1')).toEqual([]);
    expect(r.report.recap.hv1.pending).toEqual([]);
  });

  test('drift by hand (the dummy VIF destroyed): check finds exactly that, apply puts it back', async () => {
    await xe('vm-shutdown', 'vm=vm2');
    const uuid = (await xe('vif-list', 'vm-name-label=vm2', 'device=2', '--minimal')).trim();
    await xe('vif-destroy', `uuid=${uuid}`);
    await xe('vm-start', 'vm=vm2');
    const check = await play(lab(), playbook, { check: true });
    expect(check.code).toBe(2);
    expect(changesOn(check.report, 'hv1').map((c) => c.target)).toEqual(['vm:vm2/vif/2']);
    expect((await play(lab(), playbook)).code).toBe(0);
    expect((await storageWorkersAfterHostRestart()).sort()).toEqual([1, 2, 3, 4]);
    expect(changesOn((await play(lab(), playbook, { check: true })).report, 'hv1')).toEqual([]);
  });
});
