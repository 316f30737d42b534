// playbooks/hugepages.yml on a lab host with a private libvirtd, through the real CLI. This
// machine's CPU has pdpe1gb, so the play takes the 1 GiB path: the boot-time pool (grub, which
// cannot regenerate on tier 1: checked only), a hugetlbfs mount and <memoryBacking><hugepages/>.
// vm.nr_hugepages is machine-global: it is shadowed in case the 2 MiB path ever ran here.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineTcgDomain, startLibvirt, type LabLibvirt } from '../../../src/lab/libvirt.js';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';
import { virshOn } from './virsh.js';

const lab = useLab({ hosts: 1 });
const virsh = virshOn(lab, 'hv1');
let libvirt: LabLibvirt | undefined;
const playbook = readFileSync(new URL('../../../playbooks/hugepages.yml', import.meta.url), 'utf8');
const GRUB = '/etc/default/grub';
const GRUB_TEXT = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n';
// The host's /dev is the machine's: mount under the host's own /mnt instead.
const vars = ['-e', 'hugepages_1g_mount=/mnt/hp1g', '-e', 'guest_memory_gib=4'];
const hostMount = async (path: string) =>
  (await lab().exec('hv1', ['findmnt', '-n', '-o', 'FSTYPE,OPTIONS', '--mountpoint', path])).stdout.trim();

beforeAll(async () => {
  await lab().shadow('hv1', '/proc/sys/vm/nr_hugepages', '0\n');
  await lab().writeFile('hv1', GRUB, GRUB_TEXT);
  libvirt = await startLibvirt(lab(), 'hv1');
  await defineTcgDomain(lab(), 'hv1', 'vm1');
}, 120_000);
afterAll(async () => {
  await play(lab(), playbook.replace('state: mounted', 'state: absent'), { args: [...vars, '--skip-tags', 'boot'] });
  await libvirt?.stop();
});

describe('playbooks/hugepages.yml', () => {
  test('check: the 1G boot pool sized from the guests, the mount, memoryBacking; nothing changes', async () => {
    const xml = await virsh.inactiveXml('vm1');
    const r = await play(lab(), playbook, { check: true, diff: true, args: vars });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const changes = changesOn(r.report, 'hv1');
    expect(changes.map((c) => c.target)).toEqual([GRUB, '/etc/fstab', 'mount:/mnt/hp1g', 'domain:vm1']);
    expect(changes[0].diff).toContain('+GRUB_CMDLINE_LINUX="default_hugepagesz=1G hugepagesz=1G hugepages=4"');
    expect(changes[1].diff).toContain('+hugetlbfs /mnt/hp1g hugetlbfs pagesize=1G,mode=1770,gid=kvm 0 0');
    expect(changes[3].diff).toContain('+    <hugepages/>');
    expect(await lab().readFile('hv1', GRUB)).toBe(GRUB_TEXT);
    expect(await hostMount('/mnt/hp1g')).toBe('');
    expect(await virsh.inactiveXml('vm1')).toBe(xml);
  });

  test('apply without the boot task; the host has the mount and the domain its hugepages; a second run changes nothing', async () => {
    const args = [...vars, '--skip-tags', 'boot'];
    const r = await play(lab(), playbook, { args });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await hostMount('/mnt/hp1g')).toMatch(/^hugetlbfs .*pagesize=1024M/);
    expect(await virsh.inactiveXml('vm1')).toContain('<hugepages/>');
    expect(await lab().readFile('hv1', '/proc/sys/vm/nr_hugepages')).toBe('0\n');
    const again = await play(lab(), playbook, { args });
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });
});
