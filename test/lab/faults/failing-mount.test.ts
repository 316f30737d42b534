// A mount that fails (issue 15, finding 2), and the rollback of that run. The kernel has no 3 MiB
// pages, so a hugetlbfs mount with pagesize=3M fails for real inside the lab host's own mount
// namespace. Its /etc/fstab line must not be left behind (on a systemd host the next boot would
// wait for it and drop to emergency mode), the task before it stays applied, and `rollback` of
// that run puts back what that task changed and says why the failed one needs nothing.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { hvtune, labFile, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const SYSCTL = '/etc/sysctl.d/60-fault-mount.conf';
const LIVE = '/proc/sys/net/ipv4/tcp_fin_timeout';

const playbook = (pagesize: string) => `
- name: hugepages
  hosts: lab
  tasks:
    - name: fin timeout
      sysctl: { file: ${SYSCTL}, values: { net.ipv4.tcp_fin_timeout: 47 } }
    - name: hugetlbfs
      mount: { path: /mnt/hp-fault, src: hugetlbfs, fstype: hugetlbfs, opts: "pagesize=${pagesize}", state: mounted }
`;

async function hostMount(path: string): Promise<string> {
  return (await lab().exec('hv1', ['findmnt', '-n', '-o', 'FSTYPE,OPTIONS', '--mountpoint', path])).stdout.trim();
}

describe('a mount that fails', () => {
  it('leaves /etc/fstab as it was; rollback of the run puts back the task before it; a fixed playbook converges', async () => {
    const fstab = await lab().readFile('hv1', '/etc/fstab');
    const live = await lab().readFile('hv1', LIVE);
    expect(live!.trim()).not.toBe('47');

    const r = await play(lab(), playbook('3M'));
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.report.recap.hv1).toMatchObject({ changed: 1, failed: 1 });
    expect(r.report.failures).toMatchObject([{ host: 'hv1', task: 'hugetlbfs' }]);
    expect(r.report.failures[0].message).toMatch(/mount/);
    expect(await lab().readFile('hv1', '/etc/fstab')).toBe(fstab);
    expect(await hostMount('/mnt/hp-fault')).toBe('');
    expect(await lab().readFile('hv1', SYSCTL)).toContain('net.ipv4.tcp_fin_timeout = 47\n');

    // rollback of that run: the sysctl task is undone, the failed mount has nothing to undo
    const record = /run record: (\S+)/.exec(r.stderr)![1];
    const recorded = JSON.parse(readFileSync(record, 'utf8'));
    expect(recorded.hosts.hv1.tasks.map((t: { task: string; result: string }) => [t.task, t.result])).toEqual([
      ['fin timeout', 'applied'],
      ['hugetlbfs', 'failed'],
    ]);
    const undoPlan = join(lab().dir, 'undo-mount.json');
    const rb = await hvtune(['rollback', record, '--known-hosts', lab().knownHostsPath, '-o', undoPlan]);
    expect(rb.code, rb.stdout + rb.stderr).toBe(2);
    expect(rb.stdout).toContain(`hv1 | restore net.ipv4.tcp_fin_timeout: "47" → "${live!.trim()}"`);
    expect(rb.stdout).toContain(`hv1 | remove ${SYSCTL} (the run created it)`);
    expect(rb.stdout + rb.stderr).toContain('hugetlbfs: failed during the run');
    const undone = await hvtune(['apply', undoPlan, '--known-hosts', lab().knownHostsPath, '--records', join(lab().dir, 'runs')]);
    expect(undone.code, undone.stdout + undone.stderr).toBe(0);
    expect(await lab().readFile('hv1', LIVE)).toBe(live);
    expect(await lab().readFile('hv1', SYSCTL)).toBeNull();
    expect(await lab().readFile('hv1', '/etc/fstab')).toBe(fstab);

    // the playbook fixed (2 MiB pages exist on every x86-64 kernel): it converges
    const fixed = await play(lab(), playbook('2M'));
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(await lab().readFile('hv1', '/etc/fstab')).toBe(`${fstab}hugetlbfs /mnt/hp-fault hugetlbfs pagesize=2M 0 0\n`);
    expect(await hostMount('/mnt/hp-fault')).toContain('pagesize=2M');
    expect((await play(lab(), playbook('2M'))).report.changes).toEqual([]);

    // leave the host as it was
    const cleanup = labFile(lab(), 'cleanup.yml', playbook('2M').replace('state: mounted', 'state: absent'));
    expect((await hvtune(['play', cleanup, '-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath])).code).toBe(0);
    expect(await lab().readFile('hv1', '/etc/fstab')).toBe(fstab);
  });
});
