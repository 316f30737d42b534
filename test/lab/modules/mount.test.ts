// mount on a tier-1 lab host: a real hugetlbfs mount of 2 MiB pages inside the host's own mount
// namespace (it dies with the host) and its /etc/fstab line. The host's /dev is the machine's
// (bind-mounted), so the tests mount under /mnt, which lives in the host's overlay. 2 MiB pages
// exist on every x86-64 kernel; 1 GiB pages only where the CPU and kernel offer them, so the 1G
// spelling (pagesize=1G as the kernel's 1024M) is covered by the plan and parse fixtures.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { latestBackup, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const MP = '/mnt/hugepages2M';

const playbook = (state: string, opts = 'pagesize=2M,mode=1770,gid=kvm') => `
- name: hugepages
  hosts: lab
  tasks:
    - name: hugetlbfs 2M
      mount: { path: ${MP}, src: hugetlbfs, fstype: hugetlbfs, opts: "${opts}", state: ${state} }
`;

/** hugetlbfs mounts of the machine itself (outside every lab host): must never change. */
const machineHugetlbfs = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes('hugetlbfs'))
    .sort();

async function hostMount(path: string): Promise<string> {
  const r = await lab().exec(lab().hosts[0], ['findmnt', '-n', '-o', 'FSTYPE,OPTIONS', '--mountpoint', path]);
  return r.stdout.trim();
}

describe('mount: hugetlbfs of 2 MiB pages', () => {
  const machineBefore = machineHugetlbfs();
  let fstabBefore: string;
  const line = 'hugetlbfs /mnt/hugepages2M hugetlbfs pagesize=2M,mode=1770,gid=kvm 0 0\n';

  it('check mode shows the fstab diff and the mount, and changes nothing', async () => {
    const h = lab().hosts[0];
    fstabBefore = (await lab().readFile(h, '/etc/fstab')) ?? '';
    const r = await play(lab(), playbook('mounted'), { check: true, diff: true });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.report.changes.map((c) => [c.target, c.effect])).toEqual([
      ['/etc/fstab', 'persistent'],
      [`mount:${MP}`, 'live'],
    ]);
    expect(r.report.changes[0].diff).toContain('+' + line.trimEnd());
    expect(await lab().readFile(h, '/etc/fstab')).toBe(fstabBefore);
    expect(await hostMount(MP)).toBe('');
    expect((await lab().exec(h, ['test', '-e', MP])).code).not.toBe(0);
  });

  it('apply writes fstab and mounts in the host only; a second run changes nothing', async () => {
    const h = lab().hosts[0];
    const r = await play(lab(), playbook('mounted'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report.recap[h.name]).toMatchObject({ changed: 1, failed: 0 });
    expect(await lab().readFile(h, '/etc/fstab')).toBe(fstabBefore + line);
    // the kernel's own spelling: the group by number, options in its order
    const gid = (await lab().exec(h, ['getent', 'group', 'kvm'])).stdout.split(':')[2];
    expect(await hostMount(MP)).toBe(`hugetlbfs rw,relatime,gid=${gid},mode=1770,pagesize=2M`);
    expect((await lab().exec(h, ['stat', '-c', '%a %G', MP])).stdout.trim()).toBe('1770 kvm');
    expect(machineHugetlbfs()).toEqual(machineBefore);

    const again = await play(lab(), playbook('mounted'));
    expect(again.code).toBe(0);
    expect(again.report.changes).toEqual([]);
  });

  it('finds a hand unmount (live drift only) and mounts again', async () => {
    const h = lab().hosts[0];
    await lab().exec(h, ['umount', MP]);
    const check = await play(lab(), playbook('mounted'), { check: true });
    expect(check.code).toBe(2);
    expect(check.report.changes.map((c) => [c.target, c.before, c.after])).toEqual([
      [`mount:${MP}`, null, 'hugetlbfs pagesize=2M,mode=1770,gid=kvm'],
    ]);
    expect((await play(lab(), playbook('mounted'))).code).toBe(0);
    expect(await hostMount(MP)).toContain('pagesize=2M');
  });

  it('finds a hand edit of fstab (persisted drift only), puts the line back and keeps the others', async () => {
    const h = lab().hosts[0];
    const edited = '# added by hand\n' + fstabBefore + line.replace('mode=1770', 'mode=0755');
    await lab().writeFile(h, '/etc/fstab', edited);
    const check = await play(lab(), playbook('mounted'), { check: true });
    expect(check.report.changes.map((c) => c.target)).toEqual(['/etc/fstab']);
    expect(check.report.changes[0].diff).toContain('-' + line.replace('mode=1770', 'mode=0755').trimEnd());
    expect((await play(lab(), playbook('mounted'))).code).toBe(0);
    expect(await lab().readFile(h, '/etc/fstab')).toBe('# added by hand\n' + fstabBefore + line);
    expect(await latestBackup(lab(), h, '/etc/fstab')).toBe(edited);
  });

  it('finds a hand mount with other options; hugetlbfs is mounted again since remount keeps them', async () => {
    const h = lab().hosts[0];
    await lab().exec(h, ['sh', '-c', `umount ${MP} && mount -t hugetlbfs -o pagesize=2M,mode=0755 hugetlbfs ${MP}`]);
    const check = await play(lab(), playbook('mounted'), { check: true });
    expect(check.report.changes.map((c) => [c.target, c.summary])).toEqual([
      [`mount:${MP}`, `unmount ${MP} and mount it again with mode=1770,gid=kvm (hugetlbfs ignores options on remount)`],
    ]);
    const r = await play(lab(), playbook('mounted'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await hostMount(MP)).toMatch(/gid=\d+,mode=1770,pagesize=2M$/);
    // the hand mount is gone, not hidden under ours
    expect((await lab().exec(h, ['findmnt', '-n', '-o', 'TARGET', MP])).stdout.trim().split('\n')).toHaveLength(1);
  });

  it('a group that does not exist is a clear error in check mode', async () => {
    const r = await play(lab(), playbook('mounted', 'pagesize=2M,gid=nosuchgroup'), { check: true });
    expect(r.code).toBe(1);
    expect(r.report.failures[0].message).toContain('gid=nosuchgroup names a group that does not exist');
  });

  it('state absent unmounts and removes the line; a second run changes nothing', async () => {
    const h = lab().hosts[0];
    const r = await play(lab(), playbook('absent'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report.changes.map((c) => c.target)).toEqual(['/etc/fstab', `mount:${MP}`]);
    expect(await hostMount(MP)).toBe('');
    expect(await lab().readFile(h, '/etc/fstab')).toBe('# added by hand\n' + fstabBefore);
    expect((await play(lab(), playbook('absent'))).report.changes).toEqual([]);
    expect(machineHugetlbfs()).toEqual(machineBefore);
  });
});

describe('mount: state present', () => {
  const present = `
- name: at next boot
  hosts: lab
  tasks:
    - name: hugetlbfs at boot
      mount: { path: /mnt/hp-boot, src: hugetlbfs, fstype: hugetlbfs, opts: "pagesize=2M", state: present }
`;
  it('writes fstab only and lists the mount as pending a reboot, also when nothing is left to change', async () => {
    const h = lab().hosts[0];
    const first = await play(lab(), present);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.report.changes.map((c) => c.target)).toEqual(['/etc/fstab']);
    expect(await lab().readFile(h, '/etc/fstab')).toContain('hugetlbfs /mnt/hp-boot hugetlbfs pagesize=2M 0 0\n');
    expect(await hostMount('/mnt/hp-boot')).toBe('');
    const again = await play(lab(), present);
    expect(again.report.changes).toEqual([]);
    expect(again.report.pending).toMatchObject([{ host: h.name, effect: 'reboot', target: 'mount:/mnt/hp-boot' }]);
    expect(again.report.recap[h.name].pending).toHaveLength(1);
    await play(lab(), present.replace('state: present', 'state: absent'));
  });
});
