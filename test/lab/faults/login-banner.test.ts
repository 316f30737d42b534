// A chatty login shell (issue 15, finding 13): the lab host's root .bashrc prints a banner to stdout
// and stderr for every command that comes in over ssh, before hvtune's own output. Writes must
// still find their backups, a value the kernel rejects must still be undone by restoring the file
// (the backup path used to be read from stdout, banner and all), and rollback must work.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ssh } from '../lab-checks.js';
import { useLab } from '../lab.js';
import { hvtune, latestBackup, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const FILE = '/etc/sysctl.d/60-banner.conf';
const OLD = 'net.ipv4.ip_local_port_range = 32768 60999\nnet.ipv4.tcp_fin_timeout = 30\n';
const BANNER = 'Welcome to hv1 (managed host: changes are logged)';

const playbook = (values: string) => `
- name: tcp
  hosts: lab
  tasks:
    - name: tcp values
      sysctl: { file: ${FILE}, values: ${values} }
`;

const live = async (key: string) => (await lab().readFile('hv1', `/proc/sys/${key.replace(/\./g, '/')}`))!.trim();

let bashrc: string | null;
beforeAll(async () => {
  bashrc = await lab().readFile('hv1', '/root/.bashrc');
  // first, before Debian's "not interactive: return", as hand-made banners usually are
  await lab().writeFile('hv1', '/root/.bashrc', `echo "${BANNER}"\necho "last login: never" >&2\n${bashrc}`);
  await lab().writeFile('hv1', FILE, OLD);
  await lab().exec('hv1', ['sysctl', '-q', '-p', FILE]);
});
afterAll(() => lab().writeFile('hv1', '/root/.bashrc', bashrc ?? ''));

describe('a login shell that prints a banner', () => {
  it('is what every command over ssh sees first', async () => {
    const r = await ssh(lab(), lab().hosts[0], 'echo hvtune');
    expect(r.stdout).toBe(`${BANNER}\nhvtune\n`);
    expect(r.stderr).toContain('last login: never');
  });

  it('a value the kernel rejects: the file is restored from its backup byte for byte', async () => {
    const r = await play(lab(), playbook('{ net.ipv4.ip_local_port_range: "60000 50000" }'));
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.report.recap.hv1).toMatchObject({ changed: 0, failed: 1 });
    expect(r.report.failures[0].message).toContain('net.ipv4.ip_local_port_range');
    expect(await lab().readFile('hv1', FILE)).toBe(OLD);
    expect(await live('net.ipv4.ip_local_port_range')).toBe('32768\t60999');
  });

  it('writes keep their backup, rollback restores it, and a second run changes nothing', async () => {
    const r = await play(lab(), playbook('{ net.ipv4.tcp_fin_timeout: 44 }'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await lab().readFile('hv1', FILE)).toBe(OLD.replace('= 30', '= 44'));
    expect(await latestBackup(lab(), 'hv1', FILE)).toBe(OLD);
    expect((await play(lab(), playbook('{ net.ipv4.tcp_fin_timeout: 44 }'))).report.changes).toEqual([]);

    const record = /run record: (\S+)/.exec(r.stderr)![1];
    const undoPlan = join(lab().dir, 'undo-banner.json');
    const rb = await hvtune(['rollback', record, '--known-hosts', lab().knownHostsPath, '-o', undoPlan]);
    expect(rb.code, rb.stdout + rb.stderr).toBe(2);
    const undone = await hvtune(['apply', undoPlan, '--known-hosts', lab().knownHostsPath, '--records', join(lab().dir, 'runs')]);
    expect(undone.code, undone.stdout + undone.stderr).toBe(0);
    expect(await lab().readFile('hv1', FILE)).toBe(OLD);
    expect(await live('net.ipv4.tcp_fin_timeout')).toBe('30');
  });
});
