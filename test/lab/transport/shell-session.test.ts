// The connection's shell session (src/transport/shell-session.ts) against a real sshd: hvtune's own
// scripts run one after another in one clean bash, each in a subshell of its own; what cannot
// travel through it gets a channel; the host lock lives in the session's shell and is taken again
// when a command's timeout ends the session.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostLock, LOCK_PATH } from '../../../src/host-lock.js';
import { connectHost, type RemoteHost } from '../../../src/host.js';
import { SshConnection, type SshOptions, type SshTarget } from '../../../src/transport/ssh.js';
import { makeKey, startLocalSshd, type LocalSshd } from './local-sshd.js';

let dir: string;
let sshd: LocalSshd;
let target: SshTarget;
let options: SshOptions;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hvtune-session-'));
  const key = join(dir, 'id_ed25519');
  sshd = await startLocalSshd(join(dir, 'sshd'), makeKey(key));
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[${sshd.address}]:${sshd.port} ${sshd.hostKeyPublic}\n`);
  target = { name: 'hv1', address: sshd.address, port: sshd.port, user: 'root', identityFile: key, agent: '' };
  options = { knownHostsFile: knownHosts, acceptNewHostKeys: false, connectTimeoutMs: 10_000 };
});

afterAll(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The PID of the shell a command runs under ($$ is the shell's, in a subshell too): the session's loop, or a channel's login shell. */
const parentOf = async (conn: SshConnection, session: boolean) => (await conn.exec('echo $$', { session })).stdout.trim();

/** A connection to the lab host for `work`, closed after it. */
async function withConnection(work: (conn: SshConnection) => Promise<void>): Promise<void> {
  const conn = await SshConnection.connect(target, options);
  try {
    await work(conn);
  } finally {
    await conn.close();
  }
}

describe('the shell session', () => {
  it('runs hvtune scripts one after another in one shell, each with exact output, status and stdin', () =>
    withConnection(async (conn) => {
      const loop = await parentOf(conn, true);
      expect(await conn.exec("printf '  a\\n\\nb  '; printf ' warn \\n' >&2; exit 7", { session: true })).toEqual({
        stdout: '  a\n\nb  ',
        stderr: ' warn \n',
        code: 7,
        signal: null,
      });
      expect(await conn.exec('cat', { session: true, stdin: 'no newline at the end ✓' })).toMatchObject({
        stdout: 'no newline at the end ✓',
        code: 0,
      });
      // exit, cd and variables stay in the command's subshell; the loop's own names are hidden
      await conn.exec('cd /tmp; x=1; exit 3', { session: true });
      const after = await conn.exec('echo "$(pwd) ${x-unset} ${__hvt_s-unset} $(type -t __hvt_m || echo none)"', { session: true });
      expect(after.stdout).toBe(`/root unset unset none\n`);
      expect(await parentOf(conn, true)).toBe(loop);
      // a module's command gets a channel of its own (its signal and process group are its own)
      expect(await parentOf(conn, false)).not.toBe(loop);
    }));

  it('sends stdin with a NUL byte, or larger than 256 KiB, on a channel of its own, intact', () =>
    withConnection(async (conn) => {
      const loop = await parentOf(conn, true);
      const withNul = Buffer.from('a\0b');
      const r = await conn.exec('od -An -c; echo $$ >&2', { session: true, stdin: withNul });
      expect(r.stdout.replace(/\s+/g, ' ').trim()).toBe('a \\0 b');
      expect(r.stderr.trim()).not.toBe(loop);
      const big = 'x'.repeat(300 * 1024);
      const b = await conn.exec('wc -c; echo $$ >&2', { session: true, stdin: big });
      expect(b.stdout.trim()).toBe(String(big.length));
      expect(b.stderr.trim()).not.toBe(loop);
    }));

  it('a command that times out ends its session; the next command runs in a new one', () =>
    withConnection(async (conn) => {
      const loop = await parentOf(conn, true);
      await expect(conn.exec('sleep 5', { session: true, timeoutMs: 300 })).rejects.toThrow('hv1: command timed out after 0.3s: sleep 5');
      const next = await parentOf(conn, true);
      expect(next).not.toBe(loop);
      expect((await conn.exec('echo still-usable', { session: true })).stdout).toBe('still-usable\n');
    }));
});

describe('the host lock in the session', () => {
  let other: SshConnection;
  const lockFree = async () => (await other.exec(`flock -n ${LOCK_PATH} true`)).code === 0;

  beforeAll(async () => {
    other = await SshConnection.connect(target, options);
  });
  afterAll(() => other.close());

  it('is held by the session, outlives a timed-out command (taken again first), and is free once the host is closed', async () => {
    const host: RemoteHost = await connectHost(target, options, { hostname: 'hv1', kernel: { release: 'x', version: [0, 0, 0] } });
    try {
      await hostLock('run-a')(host);
      expect(await lockFree()).toBe(false);
      // the lock's fd is the session shell's alone: no command inherits it
      expect((await host.connection.exec('ls -l /proc/self/fd | grep -c hvtune.lock || true', { session: true })).stdout.trim()).toBe('0');
      await expect(host.connection.exec('sleep 5', { session: true, timeoutMs: 300 })).rejects.toThrow('timed out');
      // a module's command (a channel of its own) first takes the lock again in a new session
      expect((await host.exec(['echo', 'ok'])).stdout).toBe('ok\n');
      expect(await lockFree()).toBe(false);
      expect((await other.exec(`cat ${LOCK_PATH}.holder`)).stdout).toContain('run=run-a\n');
    } finally {
      await host.close();
    }
    expect(await lockFree()).toBe(true);
  });

  it('lost to another run in between: every later command fails, naming what happened', async () => {
    const host: RemoteHost = await connectHost(target, options, { hostname: 'hv1', kernel: { release: 'x', version: [0, 0, 0] } });
    try {
      await hostLock('run-b')(host);
      await expect(host.connection.exec('sleep 5', { session: true, timeoutMs: 300 })).rejects.toThrow('timed out');
      // another run takes the lock while this one has none (once the killed shell has let go of it)
      const taken = await other.hold(`sh -c 'exec 9>>${LOCK_PATH}; flock -w 5 9 && echo held && exec cat'`, (out) => out.includes('held'));
      expect(taken.held).toBe(true);
      await expect(host.exec(['echo', 'ok'])).rejects.toThrow(
        /hv1: a command timed out and ended the session that held take the host lock/,
      );
      await expect(host.exec(['true'])).rejects.toThrow(/could not be taken again/);
    } finally {
      await host.close();
    }
  });
});
