// The reboot module's `evacuate: migrate` between two tier-1 lab hosts, each with its own libvirtd
// running a TCG domain: a real live migration, without a shutdown, then the reboot STAND-IN (never a
// real reboot: the hosts share the machine's kernel).
//
// The hosts' networks meet only in the root namespace, which does not forward (and tests never
// change its sysctls), so hv1 cannot reach hv2 by IP. hv1 reaches hv2's libvirtd through its unix
// socket instead (shareLibvirtSocket), and the migration is tunnelled (--p2p --tunnelled): hv1's
// libvirtd carries the memory over that one connection. Each libvirtd gets a host UUID of its own,
// else libvirt refuses to migrate "to the same host".

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { setLibvirtHostUuid, shareLibvirtSocket, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';
import { virshOn } from '../playbooks/virsh.js';

const lab = useLab({ hosts: 2, rebootStandIn: true });
const daemons: LabLibvirt[] = [];
const hv1 = virshOn(lab, 'hv1');
const hv2 = virshOn(lab, 'hv2');
const bootId = async () => (await lab().exec('hv1', ['cat', '/proc/sys/kernel/random/boot_id'])).stdout.trim();
const running = async (virsh: typeof hv1) => (await virsh('list', '--state-running', '--name')).split('\n').filter(Boolean);
let inventory = '';

/** A diskless TCG domain: a migration then needs no storage on the peer. */
async function startDomain(name: string): Promise<void> {
  const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>`;
  await lab().writeFile('hv1', `/tmp/${name}.xml`, xml);
  await hv1('define', '--file', `/tmp/${name}.xml`);
  await hv1('start', '--domain', name);
}

/** A play on `hosts` rebooting on request, migrating to the lab's other hosts over their shared sockets. */
const migratePlay = (hosts: string, extra = '') => `
- name: rolling reboot
  hosts: ${hosts}
  tasks:
    - name: reboot
      reboot:
        when_pending: false
        evacuate: migrate
        migrate_to: lab
        migrate_uri: "qemu+unix:///system?socket=/run/hvtune-peers/{peer}/libvirt-sock"
        migrate_tunnelled: true
        boot_timeout: 60${extra}
`;

beforeAll(async () => {
  await setLibvirtHostUuid(lab(), 'hv1', '6a1f0c2e-0000-4000-8000-000000000001');
  await setLibvirtHostUuid(lab(), 'hv2', '6a1f0c2e-0000-4000-8000-000000000002');
  const uri = await shareLibvirtSocket(lab(), 'hv1', 'hv2');
  daemons.push(await startLibvirt(lab(), 'hv1'), await startLibvirt(lab(), 'hv2'));
  // hv1 reaches hv2's libvirtd before any test relies on it
  const seen = await lab().exec('hv1', ['virsh', '-c', uri, 'version']);
  expect(seen.code, seen.stderr).toBe(0);
  await startDomain('mig1');
  // hvtune's reboot command for hv1: the stand-in, never a real reboot
  const doc = parse(readFileSync(lab().inventoryPath, 'utf8'));
  doc.all.children.lab.hosts.hv1.reboot_command = lab().rebootStandInCommand;
  inventory = join(lab().dir, 'inventory-migrate.yml');
  writeFileSync(inventory, stringify(doc));
}, 180_000);

afterAll(async () => {
  for (const d of daemons) await d.stop();
});

describe('evacuate: migrate between two lab hosts (TCG domains, tunnelled over a shared libvirt socket)', () => {
  test('check mode names the peer and why (its free memory, read from the peer), and changes nothing', async () => {
    const before = await bootId();
    const r = await play(lab(), migratePlay('hv1'), { check: true, inventory });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const [change] = changesOn(r.report, 'hv1');
    expect(change.summary).toMatch(
      /^reboot hv1: asked for \(when_pending: false\); migrate mig1 to hv2 \(64 MiB; \d+(\.\d)? [GM]iB available there\) first$/,
    );
    expect(change.after).toBe('rebooted, pending items live; mig1 on hv2');
    expect(await bootId()).toBe(before);
    expect(await running(hv1)).toEqual(['mig1']);
    expect(await running(hv2)).toEqual([]);
  });

  test('never a peer of the same batch: both hosts in one batch have nowhere to go, and nothing changes', async () => {
    const r = await play(lab(), migratePlay('lab'), { check: true, inventory });
    expect(r.code).toBe(1);
    const failure = r.report.failures.find((f) => f.host === 'hv1');
    expect(failure?.message).toMatch(/migrate_to "lab" names no host outside this host's batch .*; not rebooting/);
    expect(await running(hv1)).toEqual(['mig1']);
  });

  test('apply migrates the running domain live to hv2, reboots hv1 on the stand-in, and the domain stays on hv2', async () => {
    const before = await bootId();
    const cpuTime = async () => (await hv1('dominfo', '--domain', 'mig1')).match(/CPU time:\s+(\S+)/)?.[1];
    expect(await cpuTime()).toBeDefined();
    const r = await play(lab(), migratePlay('hv1'), { inventory });
    expect(r.report.failures).toEqual([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changesOn(r.report, 'hv1').map((c) => c.after)).toEqual(['rebooted, pending items live; mig1 on hv2']);
    await lab().waitForReboot('hv1');
    expect(await bootId()).not.toBe(before);
    // on hv2: running (never shut off: a live migration keeps the domain's state) and defined there
    expect(await running(hv2)).toEqual(['mig1']);
    expect(await hv2('domstate', '--domain', 'mig1', '--reason')).toMatch(/running \(migrated\)/);
    expect(await hv2.inactiveXml('mig1')).toContain('<name>mig1</name>');
    // on hv1: gone, not even defined (--undefinesource), after its reboot too
    expect((await hv1('list', '--all', '--name')).trim()).toBe('');
  });

  test('a second run with when_pending: true: nothing pending, zero changes, one round trip', async () => {
    const r = await play(lab(), migratePlay('hv1').replace('when_pending: false', 'when_pending: true'), { inventory });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changesOn(r.report, 'hv1')).toEqual([]);
    expect(r.report.roundTrips).toEqual({ hv1: 1 });
  });

  test('a migration that fails: the task fails, hv1 is not rebooted, its domain runs on', async () => {
    await startDomain('mig2');
    const before = await bootId();
    const r = await play(lab(), migratePlay('hv1').replace('/libvirt-sock', '/no-such-sock'), { inventory });
    expect(r.code).toBe(1);
    expect(r.report.failures[0].message).toMatch(/^hv1: migrating mig2 to hv2 failed: .*no-such-sock.*; not rebooting$/s);
    expect(await bootId()).toBe(before);
    expect(await running(hv1)).toEqual(['mig2']);
  });

  test('migrate_fallback: shutdown — what did not move is shut down (forced with allow_destroy), hv1 reboots, it runs again', async () => {
    const before = await bootId();
    const fallback = '\n        migrate_fallback: shutdown\n        shutdown_timeout: 2\n        allow_destroy: true';
    const r = await play(lab(), migratePlay('hv1', fallback).replace('/libvirt-sock', '/no-such-sock'), { inventory });
    expect(r.report.failures).toEqual([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await lab().waitForReboot('hv1');
    expect(await bootId()).not.toBe(before);
    expect(await running(hv1)).toEqual(['mig2']);
    expect(await running(hv2)).toEqual(['mig1']);
  });
});
