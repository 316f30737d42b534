// sriov and VF passthrough on a tier-1 lab host. No SR-IOV-capable NIC can run here: the machine's
// QEMU is 7.2 (the emulated igb with VFs came in 8.0) and apt has no backports suite. So the PF is
// a veth named ens1f0 inside the host's own network namespace (this kernel has no dummy driver) (real `ip -d link show`,
// which lists no VFs), whose sysfs directory is shadowed (shadowTree) with the SR-IOV attributes
// of an Intel X710 port: sriov_totalvfs 64, offset 16, stride 1, PF at 0000:3b:00.0. The module's
// reads and writes of sriov_numvfs go to that real file; the kernel behind it is absent, so no
// virtfn link appears and VF settings cannot be applied (unit tests cover them with recorded
// outputs). The domain is a TCG domain in the host's own libvirtd, defined with the VF as a hostdev:
// libvirt checks PCI passthrough only when the domain starts, which a tier-1 host cannot (no VFIO).

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LIBVIRT_URI, defineTcgDomain, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';

const lab = useLab({ hosts: 1 });
let libvirt: LabLibvirt | undefined;
const NUMVFS = '/sys/class/net/ens1f0/device/sriov_numvfs';
const RULE = '/etc/udev/rules.d/90-hvtune-sriov-ens1f0.rules';
// Seed 003's tier above 3 Mpps: VFs on the data NIC, one passed through to the guest.
const playbook = (numvfs: number) => `- name: SR-IOV VFs and a VF for the guest (seed 003)
  hosts: all
  tasks:
    - name: VFs on the data NIC
      sriov: {device: ens1f0, numvfs: ${numvfs}}
    - name: VF 2 passed through to vm1
      libvirt_domain:
        name: vm1
        hostdevs: [{pf: ens1f0, vf: 2}]
`;
const virsh = async (...args: string[]) => lab().exec('hv1', ['virsh', '-q', '-c', LIBVIRT_URI, ...args]);
const inactiveXml = async () => (await virsh('dumpxml', '--inactive', 'vm1')).stdout;
const numvfs = async () => (await lab().readFile('hv1', NUMVFS))?.trim();

beforeAll(async () => {
  const add = await lab().exec('hv1', ['ip', 'link', 'add', 'ens1f0', 'type', 'veth', 'peer', 'name', 'ens1f0-peer']);
  if (add.code !== 0) throw new Error(`ip link add ens1f0: ${add.stderr}`);
  const real = (await lab().exec('hv1', ['readlink', '-f', '/sys/class/net/ens1f0'])).stdout.trim();
  await lab().shadowTree('hv1', real, {
    'device/uevent': 'DRIVER=i40e\nPCI_CLASS=20000\nPCI_ID=8086:1572\nPCI_SUBSYS_ID=8086:0006\nPCI_SLOT_NAME=0000:3b:00.0\n',
    'device/sriov_totalvfs': '64\n',
    'device/sriov_numvfs': '0\n',
    'device/sriov_offset': '16\n',
    'device/sriov_stride': '1\n',
  });
  libvirt = await startLibvirt(lab(), 'hv1');
  await defineTcgDomain(lab(), 'hv1', 'vm1');
}, 120_000);
afterAll(async () => {
  await libvirt?.stop();
});

describe('4 VFs on ens1f0 and VF 2 for vm1', () => {
  test('check names the VF count, the udev rule and the hostdev at the address VF 2 will have, and changes nothing', async () => {
    const before = await inactiveXml();
    const r = await play(lab(), playbook(4), { check: true, diff: true });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const changes = changesOn(r.report, 'hv1');
    expect(changes.map((c) => [c.target, c.effect])).toEqual([
      ['sriov:ens1f0/numvfs', 'live'],
      [RULE, 'persistent'],
      ['domain:vm1', 'persistent'],
    ]);
    expect(changes[2].diff).toMatch(/^\+\s+<address bus='0x3b' domain='0x0000' function='0x2' slot='0x02'\/>$/m);
    expect(await numvfs()).toBe('0');
    expect(await lab().readFile('hv1', RULE)).toBeNull();
    expect(await inactiveXml()).toBe(before);
  });

  test('apply sets sriov_numvfs, writes the rule, and libvirt defines vm1 with the VF as a managed hostdev', async () => {
    const r = await play(lab(), playbook(4));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await numvfs()).toBe('4');
    expect(await lab().readFile('hv1', RULE)).toBe(
      '# Managed by hvtune (sriov): the VFs of ens1f0. Changes by hand are put back on the next run.\n' +
        'ACTION=="add", SUBSYSTEM=="net", NAME=="ens1f0", ATTR{device/sriov_numvfs}="4"\n',
    );
    const xml = await inactiveXml();
    expect(xml).toMatch(
      /<hostdev mode='subsystem' type='pci' managed='yes'>\s*<source>\s*<address domain='0x0000' bus='0x3b' slot='0x02' function='0x2'\/>/,
    );
  });

  test('a second run changes nothing', async () => {
    const r = await play(lab(), playbook(4));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changesOn(r.report, 'hv1')).toEqual([]);
  });

  // What libvirt says here is about the host (no VFIO/IOMMU in a tier-1 host), before it looks at the device.
  test('libvirt checks passthrough only at start: vm1 does not start here, and stays defined', async () => {
    const r = await virsh('start', 'vm1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("host doesn't support passthrough of host PCI devices");
    expect((await virsh('domstate', 'vm1')).stdout.trim()).toBe('shut off');
  });
});

describe('what the module refuses', () => {
  test('more VFs than sriov_totalvfs: check fails naming the limit, nothing changes', async () => {
    const r = await play(lab(), playbook(65), { check: true });
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => f.message).join('\n')).toContain('hv1: ens1f0 offers at most 64 VFs (sriov_totalvfs), not 65');
    expect(await numvfs()).toBe('4');
  });

  test('VF settings on a driver whose `ip -d link show` lists no VFs: a clear error, not a silent no-op', async () => {
    const r = await play(
      lab(),
      `- hosts: all
  tasks:
    - sriov: {device: ens1f0, numvfs: 4, vfs: {2: {mac: "52:54:00:3b:02:02", vlan: 100}}}
`,
      { check: true },
    );
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => f.message).join('\n')).toContain('shows no VF 2 in `ip -d link show`');
  });

  test('4 → 2 with no running domain holding a VF goes through 0: both writes land, the rule follows', async () => {
    const r = await play(lab(), playbook(2), { check: true });
    expect(changesOn(r.report, 'hv1').map((c) => [c.target, c.before, c.after])).toEqual([
      ['sriov:ens1f0/numvfs', '4', '0'],
      ['sriov:ens1f0/numvfs', '0', '2'],
      [RULE, null, null],
    ]);
    const applied = await play(lab(), playbook(2));
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(await numvfs()).toBe('2');
    expect(await lab().readFile('hv1', RULE)).toContain('ATTR{device/sriov_numvfs}="2"');
  });
});
