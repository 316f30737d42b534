// The reboot module on a XenServer host: a tier-1 lab host with the xe SIMULATOR installed as `xe`
// (test/sim/xe/xe.mjs; no XenServer can run here) in a simulated pool of three hosts, and the lab's
// reboot STAND-IN as its reboot command (never a real reboot: the host shares the machine's
// kernel). Evacuation is the pool's: xe host-disable, host-evacuate, the reboot, host-enable.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';

const lab = useLab({ hosts: 1, rebootStandIn: true });
const repoFile = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
const STATE = '/var/lib/xe-simulator/state.json';
let inventory = '';

async function xe(...args: string[]): Promise<string> {
  const r = await lab().exec('hv1', ['xe', ...args]);
  if (r.code !== 0) throw new Error(`xe ${args.join(' ')} (simulator): exit ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}
const bootId = async () => (await lab().exec('hv1', ['cat', '/proc/sys/kernel/random/boot_id'])).stdout.trim();
const uuidOf = (name: string) => xe('host-list', `name-label=${name}`, '--minimal');
const residentOn = async (vm: string) =>
  xe('vm-param-get', `uuid=${await xe('vm-list', `name-label=${vm}`, '--minimal')}`, 'param-name=resident-on');
const runningHere = async () =>
  xe('vm-list', `resident-on=${await uuidOf('xs1')}`, 'power-state=running', 'is-control-domain=false', 'params=name-label', '--minimal');

/** Seed the simulator with test/sim/xe/pool.json, edited. */
async function seedPool(edit: (scenario: { pool: { memoryFreeMiB: number }[] }) => void = () => undefined) {
  const scenario = JSON.parse(repoFile('test/sim/xe/pool.json'));
  edit(scenario);
  await lab().writeFile('hv1', '/root/pool.json', JSON.stringify(scenario));
  await xe('simulator-seed', 'file=/root/pool.json');
}

const rebootPlay = (evacuate: string) => `
- name: reboot a dom0
  hosts: hv1
  tasks:
    - name: reboot
      reboot: { when_pending: false, evacuate: ${evacuate}, boot_timeout: 60 }
`;

beforeAll(async () => {
  await lab().writeFile('hv1', '/usr/local/bin/xe', repoFile('test/sim/xe/xe.mjs'), 0o755);
  const doc = parse(readFileSync(lab().inventoryPath, 'utf8'));
  doc.all.children.lab.hosts.hv1.reboot_command = lab().rebootStandInCommand;
  inventory = join(lab().dir, 'inventory-xen.yml');
  writeFileSync(inventory, stringify(doc));
}, 60_000);

describe('a XenServer host evacuated by its pool (xe simulator)', () => {
  beforeEach(async () => seedPool());

  test('check mode names the VMs the pool will take, and changes nothing in the simulator', async () => {
    const before = await lab().readFile('hv1', STATE);
    const r = await play(lab(), rebootPlay('migrate'), { check: true, inventory });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(changesOn(r.report, 'hv1')[0].summary).toBe(
      'reboot hv1: asked for (when_pending: false); disable it in the pool and move db, web to other hosts of the pool (xe host-evacuate) first, enable it after',
    );
    expect(await lab().readFile('hv1', STATE)).toBe(before);
  });

  test('evacuate: shutdown is still refused on a dom0: no reboot, nothing changed', async () => {
    const before = await bootId();
    const r = await play(lab(), rebootPlay('shutdown'), { inventory });
    expect(r.code).toBe(1);
    expect(r.report.failures[0].message).toMatch(/a XenServer host: its VMs are moved by the pool with evacuate: migrate/);
    expect(await bootId()).toBe(before);
    expect(await xe('simulator-log')).toBe('');
  });

  test('apply: disabled, evacuated to the other hosts, rebooted on the stand-in, enabled after the boot', async () => {
    const before = await bootId();
    const self = await uuidOf('xs1');
    const r = await play(lab(), rebootPlay('migrate'), { inventory });
    expect(r.report.failures).toEqual([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await lab().waitForReboot('hv1');
    const after = await bootId();
    expect(after).not.toBe(before);
    // the order, the host's state before each command, and the boot it ran under
    expect((await xe('simulator-log')).split('\n')).toEqual([
      `host-disable uuid=${self} local-enabled=true boot=${before}`,
      `host-evacuate uuid=${self} local-enabled=false boot=${before}`,
      `host-enable uuid=${self} local-enabled=false boot=${after}`,
    ]);
    expect(await xe('host-param-get', `uuid=${self}`, 'param-name=enabled')).toBe('true');
    // the VMs moved, the largest to the host with the most free memory, and stay there
    expect(await residentOn('db')).toBe(await uuidOf('xs2'));
    expect(await residentOn('web')).toBe(await uuidOf('xs3'));
    expect(await runningHere()).toBe('');
  });

  test('no room in the pool: the task fails, the host is enabled again and not rebooted, its VMs still run on it', async () => {
    await seedPool((s) => {
      for (const h of s.pool) h.memoryFreeMiB = 512;
    });
    const before = await bootId();
    const self = await uuidOf('xs1');
    const r = await play(lab(), rebootPlay('migrate'), { inventory });
    expect(r.code).toBe(1);
    expect(r.report.failures[0].message).toMatch(
      /^hv1: xe host-evacuate uuid=\S+ failed: The host failed to evacuate: not enough host memory .*; not rebooting \(the host was enabled again\)$/s,
    );
    expect(await bootId()).toBe(before);
    expect(await xe('host-param-get', `uuid=${self}`, 'param-name=enabled')).toBe('true');
    expect(await runningHere()).toBe('db,web');
  });
});
