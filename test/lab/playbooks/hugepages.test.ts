// playbooks/hugepages.yml on a lab host with a private libvirtd, through the real CLI. The CPU
// decides the path (pdpe1gb), so each test names it with the lab host's own facts, pdpe1gb set:
// the same path on every machine, whether or not its kernel offers 1 GiB pages. The 1 GiB path is
// planned on the host (the boot-time pool in grub, the hugetlbfs mount, <memoryBacking>) and
// never applied here (a kernel without 1 GiB pages cannot mount them; grub cannot regenerate on
// tier 1); its apply is covered by the mount module's tests on 2 MiB pages. The 2 MiB path is
// applied: vm.nr_hugepages is machine-global, so the host sees a shadow of it.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineTcgDomain, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { changesOn, labFacts, play, with1gPages } from '../play.js';
import { virshOn } from './virsh.js';

const lab = useLab({ hosts: 1 });
const virsh = virshOn(lab, 'hv1');
let libvirt: LabLibvirt | undefined;
const playbook = readFileSync(new URL('../../../playbooks/hugepages.yml', import.meta.url), 'utf8');
const GRUB = '/etc/default/grub';
const GRUB_TEXT = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n';
// The host's /dev is the machine's: mount under the host's own /mnt instead.
const vars = ['-e', 'hugepages_1g_mount=/mnt/hp1g', '-e', 'guest_memory_gib=4'];
const SYSCTL_FILE = '/etc/sysctl.d/60-hvtune-hugepages.conf';
const hostMount = async (path: string) =>
  (await lab().exec('hv1', ['findmnt', '-n', '-o', 'FSTYPE,OPTIONS', '--mountpoint', path])).stdout.trim();
const facts = { pages1g: '', pages2m: '' };
/** The pool holds the guests' memory on every NUMA node the lab host's facts list (hugepages.yml). */
const nodesIn = (file: string) => Math.max(1, JSON.parse(readFileSync(file, 'utf8')).hosts.hv1.numa?.nodes.length ?? 0);

beforeAll(async () => {
  facts.pages1g = await labFacts(lab(), with1gPages(true));
  facts.pages2m = await labFacts(lab(), with1gPages(false));
  await lab().shadow('hv1', '/proc/sys/vm/nr_hugepages', '0\n');
  await lab().writeFile('hv1', GRUB, GRUB_TEXT);
  libvirt = await startLibvirt(lab(), 'hv1');
  await defineTcgDomain(lab(), 'hv1', 'vm1');
}, 120_000);
afterAll(async () => {
  await libvirt?.stop();
});

describe('playbooks/hugepages.yml', () => {
  test('1 GiB pages: check plans the boot pool sized from the guests, the mount, memoryBacking; nothing changes', async () => {
    const xml = await virsh.inactiveXml('vm1');
    const r = await play(lab(), playbook, { check: true, diff: true, args: [...vars, '--facts', facts.pages1g] });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const changes = changesOn(r.report, 'hv1');
    expect(changes.map((c) => c.target)).toEqual([GRUB, '/etc/fstab', 'mount:/mnt/hp1g', 'domain:vm1']);
    const pages = 4 * nodesIn(facts.pages1g);
    expect(changes[0].diff).toContain(`+GRUB_CMDLINE_LINUX="default_hugepagesz=1G hugepagesz=1G hugepages=${pages}"`);
    expect(changes[1].diff).toContain('+hugetlbfs /mnt/hp1g hugetlbfs pagesize=1G,mode=1770,gid=kvm 0 0');
    expect(changes[3].diff).toContain('+    <hugepages/>');
    expect(await lab().readFile('hv1', GRUB)).toBe(GRUB_TEXT);
    expect(await hostMount('/mnt/hp1g')).toBe('');
    expect(await virsh.inactiveXml('vm1')).toBe(xml);
  });

  test('2 MiB pages: check plans 512 pages per GiB and memoryBacking, no boot pool or mount; nothing changes', async () => {
    const xml = await virsh.inactiveXml('vm1');
    const r = await play(lab(), playbook, { check: true, diff: true, args: [...vars, '--facts', facts.pages2m] });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const changes = changesOn(r.report, 'hv1');
    expect(changes.map((c) => c.target)).toEqual(['sysctl:vm.nr_hugepages', SYSCTL_FILE, 'domain:vm1']);
    expect(changes[0]).toMatchObject({ before: '0', after: String(2048 * nodesIn(facts.pages2m)) });
    expect(await lab().readFile('hv1', '/proc/sys/vm/nr_hugepages')).toBe('0\n');
    expect(await lab().readFile('hv1', SYSCTL_FILE)).toBeNull();
    expect(await virsh.inactiveXml('vm1')).toBe(xml);
  });

  test('2 MiB pages: apply sets the pool and the domain its hugepages; a second run changes nothing', async () => {
    const args = [...vars, '--facts', facts.pages2m];
    const r = await play(lab(), playbook, { args });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const pages = 2048 * nodesIn(facts.pages2m);
    expect(await lab().readFile('hv1', '/proc/sys/vm/nr_hugepages')).toBe(`${pages}\n`);
    expect(await lab().readFile('hv1', SYSCTL_FILE)).toContain(`vm.nr_hugepages = ${pages}`);
    expect(await virsh.inactiveXml('vm1')).toContain('<hugepages/>');
    expect(await lab().readFile('hv1', GRUB)).toBe(GRUB_TEXT);
    const again = await play(lab(), playbook, { args });
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });
});
