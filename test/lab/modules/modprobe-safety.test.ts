// modprobe safety on a tier-1 lab host (issue 15, finding 12). The host gets its own /sys/module
// (shadowTree): e1000e loaded with a use count of 0 and a PCI device bound to its driver, as a NIC
// driver carrying traffic shows, and e1000 loaded with nothing bound. No module is loaded or
// unloaded here: the reload case runs in check mode only.
//
// The initramfs case: the host gets a real /boot/initrd.img-RELEASE file and real modprobe.d
// files compared by their times; update-initramfs itself cannot run in a tier-1 host (the kernel
// has no modules and initramfs-tools is not installed), so the test installs a stand-in for it
// that fails the first time, as an interrupted regeneration does, and then touches the image.

import { beforeAll, describe, expect, test } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, labFacts, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const BOUND = 'pci:e1000e/0000:00:03.0';
const playbook = (task: string) => `- name: module safety
  hosts: lab
  tasks:
    - name: the task
      modprobe: ${task}
`;
const messages = (r: Awaited<ReturnType<typeof play>>) => r.report.failures.map((f) => f.message).join('\n');
const warnings = (r: Awaited<ReturnType<typeof play>>) =>
  [...r.report.warnings, ...changesOn(r.report, 'hv1').flatMap((c) => c.warnings)].join('\n');

beforeAll(async () => {
  await lab().shadowTree('hv1', '/sys/module', {
    'e1000e/initstate': 'live\n',
    'e1000e/refcnt': '0\n',
    'e1000e/parameters/InterruptThrottleRate': '3\n',
    'e1000e/drivers/pci:e1000e/bind': '',
    'e1000e/drivers/pci:e1000e/unbind': '',
    'e1000e/drivers/pci:e1000e/uevent': '',
    'e1000e/drivers/pci:e1000e/new_id': '',
    'e1000e/drivers/pci:e1000e/0000:00:03.0': '',
    'e1000/initstate': 'live\n',
    'e1000/refcnt': '0\n',
    'e1000/parameters/InterruptThrottleRate': '3\n',
    'e1000/drivers/pci:e1000/bind': '',
    'e1000/drivers/pci:e1000/uevent': '',
  });
});

describe('reload: if-unused on a tier-1 host', () => {
  test('a use count of 0 with a device bound to the driver: no reload, the recap says it is in use and why', async () => {
    const task = '{ module: e1000e, options: { InterruptThrottleRate: 1 }, reload: if-unused }';
    const r = await play(lab(), playbook(task), { check: true });
    expect(r.code).toBe(2);
    expect(changesOn(r.report, 'hv1').map((c) => [c.target, c.effect])).toEqual([['/etc/modprobe.d/hvtune-e1000e.conf', 'persistent']]);
    // Applied: the file only (nothing reaches the kernel), the reload left pending with its reason.
    const applied = await play(lab(), playbook(task));
    expect(applied.code).toBe(0);
    expect(await lab().readFile('hv1', '/etc/modprobe.d/hvtune-e1000e.conf')).toContain('options e1000e InterruptThrottleRate=1\n');
    expect(applied.report.recap.hv1.pending).toEqual([
      expect.objectContaining({
        effect: 'module-reload',
        target: 'module:e1000e',
        summary: expect.stringContaining(`in use (bound to ${BOUND})`),
      }),
    ]);
    expect(changesOn((await play(lab(), playbook(task))).report, 'hv1')).toEqual([]);
  });

  test('nothing bound and a use count of 0: the reload is planned (check mode only)', async () => {
    const r = await play(lab(), playbook('{ module: e1000, options: { InterruptThrottleRate: 1 }, reload: if-unused }'), { check: true });
    expect(changesOn(r.report, 'hv1').map((c) => [c.target, c.effect])).toContainEqual(['module:e1000', 'module-reload']);
  });
});

describe('blacklisting the driver of the NIC of the SSH session', () => {
  let facts = '';
  let sessionNic = '';
  beforeAll(async () => {
    // The interface holding the address the inventory connects to; its driver, as the recorded
    // facts of a machine with a physical NIC would say, is e1000e.
    const inventoryAddress = lab().hosts.find((h) => h.name === 'hv1')!.address;
    sessionNic = (
      await lab().exec('hv1', [
        'sh',
        '-c',
        `ip -o addr show | awk -v a="${inventoryAddress}" '{ split($4, p, "/"); if (p[1] == a) print $2 }'`,
      ])
    ).stdout.trim();
    expect(sessionNic).not.toBe('');
    facts = await labFacts(lab(), (f) => ({
      ...f,
      nics: (f.nics ?? []).map((n) => (n.name === sessionNic ? { ...n, driver: 'e1000e', virtual: false } : n)),
    }));
  });

  test('refused with the NIC named and the override, and nothing is written', async () => {
    const r = await play(lab(), playbook('{ module: e1000e, state: blacklisted }'), { args: ['--facts', facts] });
    expect(r.code).toBe(1);
    expect(messages(r)).toContain(`e1000e drives ${sessionNic}, the NIC that carries this SSH session`);
    expect(messages(r)).toContain('allow_session_nic: true');
    expect(await lab().readFile('hv1', '/etc/modprobe.d/hvtune-e1000e.conf')).not.toContain('blacklist');
  });

  test('allow_session_nic: true plans the blacklist with a warning, and the driver is not unloaded now', async () => {
    const r = await play(lab(), playbook('{ module: e1000e, state: blacklisted, reload: if-unused, allow_session_nic: true }'), {
      check: true,
      args: ['--facts', facts],
    });
    expect(r.code).toBe(2);
    expect(changesOn(r.report, 'hv1').map((c) => c.target)).toEqual(['/etc/modprobe.d/hvtune-e1000e.conf']);
    expect(warnings(r)).toContain(`e1000e drives ${sessionNic}, the NIC of this SSH session`);
  });

  test('the same blacklist on the facts the host gathers itself (a veth, no driver) goes through', async () => {
    const r = await play(lab(), playbook('{ module: e1000e, state: blacklisted }'), { check: true });
    expect(r.code).toBe(2);
  });
});

describe('a module the initramfs holds', () => {
  const STAND_IN = '/usr/local/sbin/update-initramfs';
  const FILE = '/etc/modprobe.d/hvtune-e1000.conf';
  let image = '';
  const task = '{ module: e1000, options: { InterruptThrottleRate: 1 } }';
  beforeAll(async () => {
    image = `/boot/initrd.img-${(await lab().exec('hv1', ['uname', '-r'])).stdout.trim()}`;
    await lab().writeFile('hv1', image, 'initramfs image stand-in\n');
    await lab().exec('hv1', ['touch', '-d', '2026-01-01', image]);
    // Stand-in for update-initramfs (see the top): fails once, then "regenerates" by touching the image.
    await lab().writeFile(
      'hv1',
      STAND_IN,
      `#!/bin/sh\nif [ ! -e /run/hvtune-test-regenerated-once ]; then : > /run/hvtune-test-regenerated-once; echo "interrupted" >&2; exit 130; fi\necho "$@" >> /run/hvtune-test-regenerations\ntouch "${'$'}(ls /boot/initrd.img-* | head -n 1)"\n`,
      0o755,
    );
  });

  test('the plan says the image is regenerated; a failed regeneration fails the host and the next run regenerates again', async () => {
    const check = await play(lab(), playbook(task), { check: true });
    const [change] = changesOn(check.report, 'hv1');
    expect(change.summary).toContain(`regenerate ${image} (update-initramfs -u), which holds e1000`);

    const failed = await play(lab(), playbook(task));
    expect(failed.code).toBe(1);
    expect(messages(failed)).toContain(`cannot regenerate ${image}`);
    expect(messages(failed)).toContain('the next run regenerates again');
    expect(await lab().readFile('hv1', FILE)).toContain('options e1000 InterruptThrottleRate=1');
    expect(await lab().readFile('hv1', '/run/hvtune-test-regenerations')).toBeNull();

    // The file is right, the image older than it: compared, not remembered.
    const retry = await play(lab(), playbook(task));
    expect(retry.code).toBe(0);
    expect(changesOn(retry.report, 'hv1').map((c) => c.target)).toEqual([image]);
    expect(await lab().readFile('hv1', '/run/hvtune-test-regenerations')).toMatch(/^-u -k \S+\n$/);

    const again = await play(lab(), playbook(task));
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });
});
