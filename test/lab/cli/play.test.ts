// Issue 2's "done when", tried as a user would: real sshd, real sysctl, real files in lab hosts.

import { createServer, type Server } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, hvtune, labFile, play } from '../play.js';

const lab = useLab({ hosts: 3 });

const PLAYBOOK = `
- name: tcp tuning
  hosts: lab
  tasks:
    - name: buffers
      sysctl:
        file: /etc/sysctl.d/60-tcp.conf
        values:
          net.ipv4.tcp_rmem: "4096 87380 {{max_buf}}"
          net.ipv4.tcp_fin_timeout: 30
    - name: backlog
      sysctl:
        file: /etc/sysctl.d/60-tcp.conf
        values:
          net.core.somaxconn: 4096
  vars:
    max_buf: 33554432
`;

async function live(host: string, key: string): Promise<string> {
  const r = await lab().exec(host, ['cat', `/proc/sys/${key.replace(/\./g, '/')}`]);
  return r.stdout.trim().replace(/\s+/g, ' ');
}

describe('hvtune play on three lab hosts', () => {
  it('check mode shows every change with diffs, exits 2 and changes nothing', async () => {
    const before = await Promise.all(lab().hosts.map((h) => live(h.name, 'net.ipv4.tcp_fin_timeout')));
    const r = await hvtune([
      'play',
      labFile(lab(), 'site.yml', PLAYBOOK),
      '-i',
      lab().inventoryPath,
      '--known-hosts',
      lab().knownHostsPath,
      '--check',
      '--diff',
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain('+++ b/etc/sysctl.d/60-tcp.conf');
    expect(r.stdout).toContain('+net.ipv4.tcp_fin_timeout = 30');
    expect(r.stdout).toMatch(/set net\.ipv4\.tcp_fin_timeout: "60" → "30"/);
    expect(r.stdout).toMatch(/check mode/);
    // Honest check mode: the second task's diff builds on the file the first task would write.
    const json = await play(lab(), PLAYBOOK, { check: true });
    const backlogDiff = json.report.changes.find((c) => c.task === 'backlog' && c.diff)?.diff ?? '';
    expect(backlogDiff).toContain('\n net.ipv4.tcp_fin_timeout = 30\n');
    expect(backlogDiff).toContain('\n+net.core.somaxconn = 4096\n');
    for (const [i, h] of lab().hosts.entries()) {
      expect(await live(h.name, 'net.ipv4.tcp_fin_timeout')).toBe(before[i]);
      expect(await lab().readFile(h.name, '/etc/sysctl.d/60-tcp.conf')).toBeNull();
    }
  });

  it('applies live and persisted values, then a second run changes nothing', async () => {
    const first = await play(lab(), PLAYBOOK);
    expect(first.code, first.stderr).toBe(0);
    for (const h of lab().hosts) {
      expect(first.report.recap[h.name]).toMatchObject({ changed: 2, failed: 0, unreachable: false });
      expect(await live(h.name, 'net.ipv4.tcp_rmem')).toBe('4096 87380 33554432');
      expect(await live(h.name, 'net.ipv4.tcp_fin_timeout')).toBe('30');
      expect(await live(h.name, 'net.core.somaxconn')).toBe('4096');
      // both tasks share one file: the second task must keep the first task's lines
      expect(await lab().readFile(h.name, '/etc/sysctl.d/60-tcp.conf')).toBe(
        '# Managed by hvtune: keys below are set by playbooks; other lines are kept.\n' +
          'net.ipv4.tcp_rmem = 4096 87380 33554432\nnet.ipv4.tcp_fin_timeout = 30\nnet.core.somaxconn = 4096\n',
      );
    }
    const second = await play(lab(), PLAYBOOK);
    expect(second.code).toBe(0);
    expect(second.report.changes).toEqual([]);
    for (const h of lab().hosts) expect(second.report.recap[h.name]).toMatchObject({ ok: 2, changed: 0 });
    // facts and both tasks' reads travel in one batch: one round trip per host, nothing per task
    for (const h of lab().hosts) expect(second.report.roundTrips[h.name]).toBe(1);
    // templates that use facts (here in play vars, rendered per host) need them before the reads: two round trips
    const varsFacts = await play(lab(), PLAYBOOK.replace('max_buf: 33554432', 'max_buf: "{{#if facts.cpu.online}}33554432{{/if}}"'));
    expect(varsFacts.code, varsFacts.stderr + varsFacts.stdout).toBe(0);
    expect(varsFacts.report.changes).toEqual([]);
    for (const h of lab().hosts) expect(varsFacts.report.roundTrips[h.name]).toBe(2);
    // applying: one batch, then per changed task its writes — no re-read of a file just written
    for (const h of lab().hosts) expect(first.report.roundTrips[h.name]).toBeLessThanOrEqual(5);
  });

  it('finds exactly a hand-made drift and puts it back', async () => {
    const hv2 = lab().hosts[1].name;
    await lab().exec(hv2, ['sysctl', '-q', '-w', 'net.ipv4.tcp_fin_timeout=45']);
    const check = await play(lab(), PLAYBOOK, { check: true });
    expect(check.code).toBe(2);
    expect(check.report.changes.map((c) => [c.host, c.target, c.before, c.after])).toEqual([
      [hv2, 'sysctl:net.ipv4.tcp_fin_timeout', '45', '30'],
    ]);
    const fix = await play(lab(), PLAYBOOK);
    expect(fix.code).toBe(0);
    expect(changesOn(fix.report, hv2)).toHaveLength(1);
    expect(await live(hv2, 'net.ipv4.tcp_fin_timeout')).toBe('30');
  });
});

describe('bad input', () => {
  let server: Server;
  let connections = 0;
  let port = 0;
  beforeAll(async () => {
    server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((res) => server.close(() => res())));

  it('reports every problem with file:line:column, exits 1 and connects to no host', async () => {
    const inventory = labFile(lab(), 'inv.yml', `all:\n  hosts:\n    h1: { address: 127.0.0.1, port: ${port} }\n`);
    const bad = labFile(
      lab(),
      'bad.yml',
      `- name: bad
  hosts: all
  tasks:
    - name: ok task
      sysctl:
        values: { net.ipv4.tcp_fin_timeout: 30 }
    - name: wrong tuple
      sysctl:
        values:
          net.ipv4.tcp_rmem: "4096 87380"
    - name: unknown key
      sysctl:
        valuez: { net.core.somaxconn: 1 }
`,
    );
    const r = await hvtune(['play', bad, '-i', inventory, '--known-hosts', '/dev/null']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yml:10:\d+ .*net\.ipv4\.tcp_rmem.*must be 2 integers|bad\.yml:10:\d+ .*must be 3 integers/);
    expect(r.stderr).toMatch(/bad\.yml:13:\d+ .*valuez/);
    expect(connections).toBe(0);
  });
});

describe('unreachable and host keys', () => {
  it('one unreachable host among three: the others complete, the recap says unreachable, exit 1', async () => {
    const extra = await lab().addHosts(1);
    const gone = extra[0].name;
    const inv = lab().inventoryPath;
    await lab().stopHost(gone);
    const r = await play(lab(), PLAYBOOK.replace('hosts: lab', 'hosts: all'), { inventory: inv, args: ['--timeout', '3'] });
    expect(r.code).toBe(1);
    expect(r.report.recap[gone]).toMatchObject({ unreachable: true });
    for (const h of lab().hosts.filter((h) => h.name !== gone)) {
      expect(r.report.recap[h.name]).toMatchObject({ unreachable: false, failed: 0 });
    }
  });

  it('refuses an unknown host key unless --accept-new-host-keys, and always refuses a changed one', async () => {
    const hv1 = lab().hosts[0];
    const empty = labFile(lab(), 'known_hosts', '');
    const base = [
      'play',
      labFile(lab(), 'p.yml', PLAYBOOK),
      '-i',
      lab().inventoryPath,
      '--limit',
      hv1.name,
      '--check',
      '--json',
      '--known-hosts',
      empty,
    ];
    const refused = await hvtune(base);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).recap[hv1.name].unreachable).toBe(true);
    expect(refused.stdout).toMatch(/not in .*known_hosts/);

    const accepted = await hvtune([...base, '--accept-new-host-keys']);
    expect(accepted.code).toBe(0);
    expect(readFileSync(empty, 'utf8')).toContain(hv1.hostKeyPublic.split(' ')[1]);
    expect((await hvtune(base)).code).toBe(0); // recorded: no flag needed any more

    // Replace the recorded key with another key: a changed key is refused, flag or not.
    const other = execFileSync('sh', [
      '-c',
      `d=$(mktemp -d) && ssh-keygen -q -t ed25519 -N '' -f $d/k && cat $d/k.pub && rm -r $d`,
    ]).toString();
    writeFileSync(empty, `${hv1.address} ${other.split(' ').slice(0, 2).join(' ')}\n`);
    const changed = await hvtune([...base, '--accept-new-host-keys']);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/CHANGED|changed/);
    expect(readFileSync(empty, 'utf8')).not.toContain(hv1.hostKeyPublic.split(' ')[1]);
  });
});

describe('a read that fails', () => {
  it('fails its own task, not the host: earlier tasks still run and the error names the path', async () => {
    const r = await play(
      lab(),
      `- name: mixed
  hosts: ${lab().hosts[0].name}
  tasks:
    - name: fine
      sysctl: { values: { net.ipv4.tcp_fin_timeout: 30 }, file: /etc/sysctl.d/60-tcp.conf }
    - name: a directory where a file should be
      file: { path: /etc/ssh, content: "x" }
`,
      { check: true },
    );
    expect(r.code).toBe(1);
    expect(r.report.recap[lab().hosts[0].name]).toMatchObject({ ok: 1, failed: 1, unreachable: false });
    expect(r.report.failures[0]).toMatchObject({ task: 'a directory where a file should be' });
    expect(r.report.failures[0].message).toMatch(/\/etc\/ssh/);
  });
});

describe('register and when on a registered result', () => {
  // The second task reads the first one's result: it is rendered only once the first has run,
  // and its read is a round trip of its own.
  const REGISTERED = `
- name: follow-up
  hosts: hv1
  tasks:
    - name: timeout
      register: timeout
      sysctl: { values: { net.ipv4.tcp_keepalive_time: 600 } }
    - name: only after a change
      when: "timeout.changed"
      sysctl: { values: { net.ipv4.tcp_keepalive_intvl: 30 } }
`;

  it('runs the follow-up when the registered task changed, skips it when not', async () => {
    await lab().exec('hv1', ['sysctl', '-w', 'net.ipv4.tcp_keepalive_time=7200', 'net.ipv4.tcp_keepalive_intvl=75']);
    const check = await play(lab(), REGISTERED, { check: true });
    expect(check.code, check.stdout + check.stderr).toBe(2);
    expect(check.report.changes.map((c) => c.target).filter((t) => t.startsWith('sysctl:'))).toEqual([
      'sysctl:net.ipv4.tcp_keepalive_time',
      'sysctl:net.ipv4.tcp_keepalive_intvl',
    ]);
    expect(await live('hv1', 'net.ipv4.tcp_keepalive_intvl')).toBe('75');

    const first = await play(lab(), REGISTERED);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.report.recap.hv1).toMatchObject({ changed: 2, skipped: 0 });
    expect(await live('hv1', 'net.ipv4.tcp_keepalive_time')).toBe('600');
    expect(await live('hv1', 'net.ipv4.tcp_keepalive_intvl')).toBe('30');

    // Set by hand back: the registered task changes nothing, so the follow-up is skipped.
    await lab().exec('hv1', ['sysctl', '-w', 'net.ipv4.tcp_keepalive_intvl=75']);
    const again = await play(lab(), REGISTERED);
    expect(again.code).toBe(0);
    expect(again.report.recap.hv1).toMatchObject({ changed: 0, skipped: 1 });
    expect(again.report.changes).toEqual([]);
    expect(await live('hv1', 'net.ipv4.tcp_keepalive_intvl')).toBe('75');
  });
});
