// The transport against tier-1 lab hosts (LAB.md): each host is its own network namespace with a
// real sshd, so a jump through one host reaches an address that only exists inside it.
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConnectError } from '../../../src/errors.js';
import { connectHost, type RemoteHost } from '../../../src/host.js';
import type { LabHost } from '../../../src/demo/lab/tier1.js';
import { SshConnection, type SshOptions, type SshTarget } from '../../../src/transport/ssh.js';
import { useLab } from '../lab.js';

const lab = useLab({ hosts: 3 });

const target = (h: LabHost, extra: Partial<SshTarget> = {}): SshTarget => ({
  name: h.name,
  address: h.address,
  port: h.port,
  user: 'root',
  identityFile: lab().keyPath,
  agent: '',
  ...extra,
});
const options = (extra: Partial<SshOptions> = {}): SshOptions => ({
  knownHostsFile: lab().knownHostsPath,
  acceptNewHostKeys: false,
  connectTimeoutMs: 5000,
  ...extra,
});

describe('lab hosts', () => {
  it('connects to every host with the lab known_hosts and gathers its facts', async () => {
    const hosts = await Promise.all(lab().hosts.map((h) => connectHost(target(h), options())));
    try {
      expect(hosts.map((h) => h.facts.hostname)).toEqual(lab().hosts.map((h) => h.name));
      expect(hosts.map((h) => h.roundTrips)).toEqual(hosts.map(() => 1));
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });

  it('writes, backs up and restores a file the host itself sees; reads back in one round trip', async () => {
    const [hv1] = lab().hosts;
    const host: RemoteHost = await connectHost(target(hv1), options());
    try {
      const path = '/etc/sysctl.d/90-hvtune-transport.conf';
      const live = '/proc/sys/net/ipv4/tcp_fin_timeout';
      expect(await host.writeFile(path, 'net.ipv4.tcp_fin_timeout = 30\n')).toEqual({ backup: null });
      const { backup } = await host.writeFile(path, 'net.ipv4.tcp_fin_timeout = 15\n');
      expect(await lab().readFile(hv1, path)).toBe('net.ipv4.tcp_fin_timeout = 15\n');
      expect(await lab().readFile(hv1, backup!)).toBe('net.ipv4.tcp_fin_timeout = 30\n');
      const before = host.roundTrips;
      const [file, absent, sysctl, glob] = await host.read([
        { kind: 'file', path },
        { kind: 'file', path: '/etc/sysctl.d/absent.conf' },
        { kind: 'cmd', argv: ['sysctl', '-n', 'net.ipv4.tcp_fin_timeout'] },
        { kind: 'glob', pattern: '/etc/sysctl.d/90-hvtune-*' },
      ]);
      expect(host.roundTrips - before).toBe(1);
      expect(file).toMatchObject({ content: 'net.ipv4.tcp_fin_timeout = 15\n' });
      expect(absent).toMatchObject({ content: null });
      expect(sysctl).toMatchObject({ stdout: (await lab().readFile(hv1, live))!, code: 0 });
      // the backup is kept outside the directory, where no glob of it finds it
      expect(backup!.startsWith(`/var/lib/hvtune/backups${path}@`)).toBe(true);
      expect(Object.keys((glob as { files: object }).files)).toEqual([path]);
      await host.restoreFile(path, backup);
      expect(await lab().readFile(hv1, path)).toBe('net.ipv4.tcp_fin_timeout = 30\n');
      await host.removeFile(path, { backup: false });
      expect(await lab().readFile(hv1, path)).toBeNull();
    } finally {
      await host.close();
    }
  });

  it("jumps through a host to an sshd that listens only on that host's loopback", async () => {
    const [hv1] = lab().hosts;
    // A second sshd inside hv1, on 127.0.0.1:2222 of hv1's own network namespace.
    await lab().exec(hv1, ['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', '/etc/ssh/inner_host_key']);
    const config = (await lab().readFile(hv1, '/etc/ssh/hvtune_lab_sshd_config'))!
      .replace(/^ListenAddress .*$/m, 'ListenAddress 127.0.0.1:2222')
      .replace(/^HostKey .*$/m, 'HostKey /etc/ssh/inner_host_key');
    await lab().writeFile(hv1, '/etc/ssh/inner_sshd_config', config);
    const inner = await lab().spawn(hv1, ['/usr/sbin/sshd', '-D', '-e', '-f', '/etc/ssh/inner_sshd_config']);
    try {
      const knownHosts = join(lab().dir, 'known_hosts-jump');
      copyFileSync(lab().knownHostsPath, knownHosts);
      const loopback: SshTarget = { ...target(hv1), name: 'inner', address: '127.0.0.1', port: 2222 };
      // Without the jump that address is this machine's loopback, where nothing listens on 2222.
      const direct = await SshConnection.connect(loopback, options({ knownHostsFile: knownHosts })).catch((e: unknown) => e);
      expect(direct).toBeInstanceOf(ConnectError);
      expect((direct as Error).message).toBe('inner (127.0.0.1:2222): connection refused (nothing listens on that port)');
      let conn: SshConnection | undefined;
      for (let i = 0; i < 50 && !conn; i++) {
        // sshd may still be starting: retry on a refused channel only.
        conn = await SshConnection.connect(
          { ...loopback, jump: target(hv1) },
          options({ knownHostsFile: knownHosts, acceptNewHostKeys: true }),
        ).catch(async (e: Error) => {
          if (!/cannot reach it through jump host/.test(e.message)) throw e;
          await new Promise((r) => setTimeout(r, 50));
          return undefined;
        });
      }
      const innerKey = (await lab().readFile(hv1, '/etc/ssh/inner_host_key.pub'))!.split(' ').slice(0, 2).join(' ');
      expect(readFileSync(knownHosts, 'utf8')).toContain(`[127.0.0.1]:2222 ${innerKey}\n`);
      const seen = await conn!.exec('hostname; echo $SSH_CONNECTION');
      const [hostname, connection] = seen.stdout.split('\n');
      expect(hostname).toBe(hv1.name);
      expect(connection).toMatch(/^127\.0\.0\.1 \d+ 127\.0\.0\.1 2222$/);
      await conn!.close();
    } finally {
      await inner.stop();
    }
  });

  it('fails running commands when a host dies, and says so when connecting to it again', async () => {
    const hv3 = lab().hosts[2];
    const conn = await SshConnection.connect(target(hv3), options());
    const running = conn.exec('sleep 30').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await lab().stopHost(hv3);
    expect(String(await running)).toMatch(/^HvtuneError: hv3: connection lost while running: sleep 30/);
    await conn.close();
    const err = await SshConnection.connect(target(hv3), options({ connectTimeoutMs: 2000 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as Error).message).toMatch(
      new RegExp(`^hv3 \\(${hv3.address.replace(/\./g, '\\.')}:22\\): (network|host) unreachable|timed out after 2s`),
    );
  });
});
