// Become with a password (-K) against a real sudo: a lab host gets a user `ops` whose sudo asks
// for a password; hvtune connects as ops (-u), is asked the password once, and changes what only
// root may change (a per-netns sysctl, a file under /etc). The password is in no output, no run
// record and no command line (-vvv shows every line sent); a wrong one fails the host before any
// command runs.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.js';
import type { RunReport } from '../../../src/events.js';
import { useLab } from '../lab.js';
import { labFile } from '../play.js';

const lab = useLab({ hosts: 1 });

const PASSWORD = `s3cret pw-'"$(id)-7c1e`;
const FILE = '/etc/hvtune-become-test.conf';
const PLAYBOOK = `
- name: as root through sudo
  hosts: lab
  tasks:
    - name: fin timeout
      sysctl: { values: { net.ipv4.tcp_fin_timeout: 23 } }
    - name: root-owned file
      file: { path: ${FILE}, content: "written through sudo -S\\nline two\\n", mode: "0640" }
`;

async function run(args: string[], answer?: string) {
  const out: string[] = [];
  const err: string[] = [];
  let asked = 0;
  const code = await runCli(args, {
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    tty: false,
    askSecret: async () => {
      asked++;
      return answer ?? '';
    },
  });
  return { code, stdout: out.join('\n'), stderr: err.join('\n'), asked };
}

const records = () => join(lab().dir, 'runs');
const allRecords = () =>
  readdirSync(records())
    .map((f) => readFileSync(join(records(), f), 'utf8'))
    .join('\n');
const args = (book: string, ...more: string[]) => [
  'play',
  book,
  '-i',
  lab().inventoryPath,
  '--known-hosts',
  lab().knownHostsPath,
  '--records',
  records(),
  '-u',
  'ops',
  ...more,
];

beforeAll(async () => {
  const host = lab().hosts[0].name;
  const sh = async (script: string, stdin?: string) => {
    const r = await lab().exec(host, ['sh', '-c', script], stdin === undefined ? {} : { stdin });
    if (r.code !== 0) throw new Error(`lab setup failed: ${script}\n${r.stderr}`);
  };
  // inside the lab host only: its /etc and /home are its own overlay
  await sh('useradd -m -s /bin/sh ops');
  await sh('chpasswd', `ops:${PASSWORD}\n`);
  await sh(`printf 'ops ALL=(ALL:ALL) ALL\\n' > /etc/sudoers.d/ops && chmod 0440 /etc/sudoers.d/ops`);
  const key = readFileSync(`${lab().keyPath}.pub`, 'utf8');
  await sh('mkdir -p /home/ops/.ssh && cat > /home/ops/.ssh/authorized_keys && chown -R ops: /home/ops/.ssh', key);
});

describe('-K: become with a password, real sudo', () => {
  it('without -K, sudo -n is refused (the password is needed): the host fails, nothing changes', async () => {
    const book = labFile(lab(), 'site.yml', PLAYBOOK);
    const r = await run(args(book, '-b', '--json'));
    expect(r.code).toBe(1);
    expect(r.asked).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/a password is required/);
    expect(await lab().readFile(lab().hosts[0], FILE)).toBeNull();
  });

  it('a wrong password fails the host before any command, naming sudo; nothing changes', async () => {
    const book = labFile(lab(), 'site.yml', PLAYBOOK);
    const r = await run(args(book, '-K', '--json'), 'not-the-password');
    expect(r.code).toBe(1);
    expect(r.asked).toBe(1);
    const report = JSON.parse(r.stdout) as RunReport;
    expect(report.recap[lab().hosts[0].name].unreachable).toBe(true);
    expect(report.failures[0].message).toMatch(/become: sudo refused the password of ops/);
    expect(await lab().readFile(lab().hosts[0], FILE)).toBeNull();
  });

  it('asks once, applies as root, and the password is nowhere: output, -vvv lines, run record', async () => {
    const host = lab().hosts[0];
    const book = labFile(lab(), 'site.yml', PLAYBOOK);
    const r = await run(args(book, '-K', '-vvv'), PASSWORD);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.asked).toBe(1);
    expect(r.stdout).toMatch(/\| changed/);
    // -vvv: every line sent, each through sudo -S (the password travels on stdin)
    const sent = r.stdout.split('\n').filter((l) => l.includes(' | ssh: '));
    expect(sent.length).toBeGreaterThan(2);
    for (const l of sent) expect(l).toMatch(/\| ssh: sudo -S (-k )?-p '' /);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(r.stdout + r.stderr).not.toContain('s3cret');
    expect(allRecords()).not.toContain('s3cret');

    // done as root, on the host itself
    expect((await lab().exec(host, ['cat', '/proc/sys/net/ipv4/tcp_fin_timeout'])).stdout.trim()).toBe('23');
    expect(await lab().readFile(host, FILE)).toBe('written through sudo -S\nline two\n');
    expect((await lab().exec(host, ['stat', '-c', '%U %a', FILE])).stdout.trim()).toBe('root 640');

    // a second run with the same password changes nothing
    const again = await run(args(book, '-K', '--json'), PASSWORD);
    expect(again.code, again.stderr).toBe(0);
    const converged = JSON.parse(again.stdout) as RunReport;
    expect(converged.changes).toEqual([]);
    // what -K costs: the password check, one round trip more than the same run as root
    const asRoot = await run(args(book, '--json').filter((a, i, all) => a !== '-u' && all[i - 1] !== '-u'));
    const rootReport = JSON.parse(asRoot.stdout) as RunReport;
    expect(rootReport.changes).toEqual([]);
    expect(converged.roundTrips[host.name]).toBe(rootReport.roundTrips[host.name] + 1);
  });
});
