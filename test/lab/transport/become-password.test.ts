// become and password auth against a real sshd and a real sudo in a tier-1 host: a non-root user
// with passwordless sudo applies a sysctl through `sudo -n` (and without become is refused by the
// kernel), and a user with only a password logs in to a second sshd that accepts passwords.

import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { addPasswordUser, addSudoUser, startPasswordSshd, writeInventory, type PasswordSshd } from '../../harness/auth.js';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const FILE = '/etc/sysctl.d/60-become.conf';
const playbook = (value: number) => `- name: as another user
  hosts: all
  tasks:
    - name: fin timeout
      sysctl:
        file: ${FILE}
        values: { net.ipv4.tcp_fin_timeout: ${value} }
`;
let sshd: PasswordSshd | undefined;

beforeAll(async () => {
  await addSudoUser(lab(), 'hv1', 'ops');
  await addPasswordUser(lab(), 'hv1', 'auditor', 'correct horse 7 battery');
  sshd = await startPasswordSshd(lab(), 'hv1');
  appendFileSync(lab().knownHostsPath, sshd.knownHosts);
}, 60_000);
afterAll(async () => {
  await sshd?.stop();
});

const address = () => lab().hosts[0].address;
const fin = async () => (await lab().exec('hv1', ['sysctl', '-n', 'net.ipv4.tcp_fin_timeout'])).stdout.trim();

describe('become: true through a real sudo', () => {
  test('as ops without become the write is refused and nothing changes', async () => {
    const before = await fin();
    const inventory = writeInventory(lab().dir, 'ops-no-become.yml', 'hv1', {
      address: address(),
      user: 'ops',
      identity_file: lab().keyPath,
    });
    const r = await play(lab(), playbook(41), { inventory });
    expect(r.code).toBe(1);
    // the host lock in /run is root's: the run stops there, before any change
    expect(r.report.failures.map((f) => f.message).join('\n')).toContain('cannot take the host lock');
    expect(await fin()).toBe(before);
    expect(await lab().readFile('hv1', FILE)).toBeNull();
  });

  test('as ops with become the sysctl is applied by root through sudo; a second run changes nothing', async () => {
    const inventory = writeInventory(lab().dir, 'ops-become.yml', 'hv1', {
      address: address(),
      user: 'ops',
      identity_file: lab().keyPath,
      become: true,
    });
    const check = await play(lab(), playbook(41), { inventory, check: true });
    expect(check.code).toBe(2);
    const r = await play(lab(), playbook(41), { inventory });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await fin()).toBe('41');
    expect(await lab().readFile('hv1', FILE)).toContain('net.ipv4.tcp_fin_timeout = 41');
    expect((await lab().exec('hv1', ['stat', '-c', '%U', FILE])).stdout.trim()).toBe('root');
    const again = await play(lab(), playbook(41), { inventory });
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });
});

describe('password auth against a real sshd', () => {
  const inventory = (password: string) =>
    writeInventory(lab().dir, `auditor-${password.length}.yml`, 'hv1', {
      address: address(),
      port: sshd!.port,
      user: 'auditor',
      password,
    });

  test('the right password logs in: check mode reads the host as auditor and plans a file in its home', async () => {
    const note = `- name: as auditor
  hosts: all
  tasks:
    - name: a note
      file: { path: /home/auditor/note, content: "checked\\n" }
`;
    const r = await play(lab(), note, { inventory: inventory('correct horse 7 battery'), check: true });
    expect(r.report.recap.hv1.unreachable, JSON.stringify(r.report.failures) + r.stderr).toBe(false);
    expect(r.code, JSON.stringify(r.report.failures)).toBe(2);
    expect(changesOn(r.report, 'hv1').map((c) => c.target)).toEqual(['/home/auditor/note']);
    expect(await lab().readFile('hv1', '/home/auditor/note')).toBeNull();
  });

  test('a wrong password is refused by sshd, named as an authentication failure', async () => {
    const r = await play(lab(), playbook(42), { inventory: inventory('wrong'), check: true });
    expect(r.code).toBe(1);
    expect(r.report.recap.hv1.unreachable).toBe(true);
    expect(JSON.stringify(r.report)).toMatch(/authentication failed for user auditor \(tried: password\)/);
  });
});
