// The reboot module on tier-1 lab hosts. A tier-1 host shares the machine's kernel, so hvtune's
// reboot command points at the lab's reboot STAND-IN (`reboot_command` in the inventory): the
// host's sshd and every process end, the host comes back on the same disk with a new boot id.
// Nothing at that "boot" makes a module option live, so these tests prove the path around the
// reboot — check mode says why, the reboot, the reconnection, the verification that catches what
// is still pending, evacuation that refuses to reboot, domains forced off and started again after
// the "boot" (the libvirt harness starts libvirtd at each stand-in boot, as systemd would) — and
// the full-VM tier proves a real reboot
// making a kernel argument and a module option live (test/vm/reboot.test.ts).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { LIBVIRT_URI, defineTcgDomain, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';

const lab = useLab({ hosts: 1, rebootStandIn: true });
const bootId = async () => (await lab().exec('hv1', ['cat', '/proc/sys/kernel/random/boot_id'])).stdout.trim();
let inventory = '';

beforeAll(() => {
  // hvtune's reboot command for hv1: the stand-in, never a real reboot
  const doc = parse(readFileSync(lab().inventoryPath, 'utf8'));
  doc.all.children.lab.hosts.hv1.reboot_command = lab().rebootStandInCommand;
  inventory = join(lab().dir, 'inventory-reboot.yml');
  writeFileSync(inventory, stringify(doc));
});

describe('reboot with the stand-in', () => {
  // nbd "loaded" with nbds_max=2 (a /sys/module of the host's own): 4 waits for a reload
  const PLAYBOOK = `
- name: nbd devices, live
  hosts: lab
  tasks:
    - name: nbd devices
      modprobe: { module: nbd, options: { nbds_max: 4 } }
    - name: make it live
      reboot: { when_pending: true, evacuate: none, boot_timeout: 60 }
`;
  beforeAll(async () => {
    await lab().shadowTree('hv1', '/sys/module', { 'nbd/initstate': 'live\n', 'nbd/refcnt': '0\n', 'nbd/parameters/nbds_max': '2\n' });
  });

  test('nothing pending: no reboot is planned', async () => {
    const r = await play(lab(), PLAYBOOK.replace('nbds_max: 4', 'nbds_max: 2'), { check: true, inventory });
    expect(r.code, r.stdout + r.stderr).toBe(2); // the options file is new
    expect(changesOn(r.report, 'hv1').map((c) => c.module)).not.toContain('reboot');
  });

  test('check mode says it would reboot and why, and changes nothing', async () => {
    const before = await bootId();
    const r = await play(lab(), PLAYBOOK, { check: true, inventory });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const reboot = changesOn(r.report, 'hv1').find((c) => c.module === 'reboot');
    expect(reboot).toMatchObject({ target: 'reboot:hv1', effect: 'reboot' });
    expect(reboot!.summary).toBe('reboot hv1: module:nbd');
    expect(await bootId()).toBe(before);
  });

  test('apply reboots, reconnects on the new boot id, and fails naming what the reboot did not make live', async () => {
    const before = await bootId();
    const r = await play(lab(), PLAYBOOK, { inventory });
    expect(r.code).toBe(1);
    expect(r.report.failures).toHaveLength(1);
    expect(r.report.failures[0]).toMatchObject({ host: 'hv1', task: 'make it live' });
    expect(r.report.failures[0].message).toMatch(/after it, still not live:\n {2}nbd devices: nbd is loaded with nbds_max=2/);
    await lab().waitForReboot('hv1');
    expect(await bootId()).not.toBe(before);
    // the file the first task wrote is on the host's disk across the reboot
    expect(await lab().readFile('hv1', '/etc/modprobe.d/hvtune-nbd.conf')).toContain('options nbd nbds_max=4');
  });
});

/** A play that reboots whatever is pending (more reboot arguments in `extra`). */
const onRequest = (extra: string) => `
- name: reboot on request
  hosts: lab
  tasks:
    - name: reboot
      reboot: { when_pending: false${extra ? `, ${extra}` : ''} }
`;

describe('evacuation that fails never reboots', () => {
  let libvirt: LabLibvirt | undefined;
  beforeAll(async () => {
    libvirt = await startLibvirt(lab(), 'hv1');
    await defineTcgDomain(lab(), 'hv1', 'busy1');
    const start = await lab().exec('hv1', ['virsh', '-c', LIBVIRT_URI, 'start', 'busy1']);
    expect(start.code, start.stderr).toBe(0);
  }, 180_000);
  afterAll(async () => {
    await libvirt?.stop();
  });

  test('a domain that ignores shutdown: the task fails, the host is not rebooted, the domain still runs', async () => {
    const before = await bootId();
    // a TCG domain without an OS never answers the ACPI shutdown request
    const r = await play(lab(), onRequest('evacuate: shutdown, shutdown_timeout: 3'), { inventory });
    expect(r.code).toBe(1);
    expect(r.report.failures[0].message).toMatch(/busy1 did not shut down within 3 s; not rebooting/);
    expect(await bootId()).toBe(before);
    expect((await lab().exec('hv1', ['virsh', '-c', LIBVIRT_URI, 'domstate', 'busy1'])).stdout.trim()).toBe('running');
  });

  test('allow_destroy forces it off; the host reboots, libvirtd starts at boot, the domain runs again', async () => {
    const before = await bootId();
    const r = await play(lab(), onRequest('evacuate: shutdown, shutdown_timeout: 2, allow_destroy: true, boot_timeout: 60'), { inventory });
    expect(r.report.failures).toEqual([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changesOn(r.report, 'hv1').map((c) => c.target)).toEqual(['reboot:hv1']);
    await lab().waitForReboot('hv1');
    expect(await bootId()).not.toBe(before);
    expect((await lab().exec('hv1', ['virsh', '-c', LIBVIRT_URI, 'domstate', 'busy1'])).stdout.trim()).toBe('running');
  });

  test('check mode names the domains it would shut down', async () => {
    const r = await play(lab(), onRequest(''), { check: true, inventory });
    expect(changesOn(r.report, 'hv1')[0].summary).toBe(
      'reboot hv1: asked for (when_pending: false); shut down busy1 first and start them again after',
    );
  });
});
