// SshConnection and RemoteHost against a real sshd (see local-sshd.ts: 127.0.0.1, private mount
// namespace). Host keys, exact output, multiplexing, jump hosts, atomic writes, batched reads.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectError, RemoteCommandError } from '../../../src/errors.js';
import { type RemoteHost, connectHost } from '../../../src/host.js';
import type { ReadRequest } from '../../../src/module.js';
import { fingerprint } from '../../../src/transport/known-hosts.js';
import { SshConnection, type SshOptions, type SshTarget } from '../../../src/transport/ssh.js';
import { freePort, makeKey, startLocalSshd, type LocalSshd } from './local-sshd.js';

let dir: string;
let clientKey: string;
let bastion: LocalSshd;
let inner: LocalSshd;
/** known_hosts holding both servers' keys. */
let knownHosts: string;

const target = (sshd: LocalSshd, name = 'hv1', extra: Partial<SshTarget> = {}): SshTarget => ({
  name,
  address: sshd.address,
  port: sshd.port,
  user: 'root',
  identityFile: clientKey,
  agent: '', // never the developer's agent: the tests name their key
  ...extra,
});
const options = (extra: Partial<SshOptions> = {}): SshOptions => ({
  knownHostsFile: knownHosts,
  acceptNewHostKeys: false,
  connectTimeoutMs: 10_000,
  ...extra,
});
const knownLine = (sshd: LocalSshd) => `[${sshd.address}]:${sshd.port} ${sshd.hostKeyPublic}\n`;

async function connectError(t: SshTarget, o: SshOptions): Promise<ConnectError> {
  const err = await SshConnection.connect(t, o).then(
    async (c) => {
      await c.close();
      return new Error('connected, but should not have');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hvtune-ssh-'));
  clientKey = join(dir, 'id_ed25519');
  const clientPublic = makeKey(clientKey);
  [bastion, inner] = await Promise.all([
    startLocalSshd(join(dir, 'sshd-a'), clientPublic),
    startLocalSshd(join(dir, 'sshd-b'), clientPublic),
  ]);
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, knownLine(bastion) + knownLine(inner));
});

afterAll(async () => {
  await Promise.all([bastion?.stop(), inner?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('host keys', () => {
  it('refuses an unknown host key, naming the file and the fingerprint', async () => {
    const empty = join(dir, 'kh-empty');
    const err = await connectError(target(bastion), options({ knownHostsFile: empty }));
    const print = fingerprint(bastion.hostKeyPublic.split(' ')[1]);
    expect(err.message).toBe(
      `hv1 (127.0.0.1:${bastion.port}): host key is not in ${empty} (ssh-ed25519 ${print}); ` +
        'verify it, then add it or run with --accept-new-host-keys',
    );
    expect(existsSync(empty)).toBe(false);
  });

  it('records a new key with acceptNewHostKeys; the next connection passes without it', async () => {
    const file = join(dir, 'kh-accept');
    const first = await SshConnection.connect(target(bastion), options({ knownHostsFile: file, acceptNewHostKeys: true }));
    await first.close();
    expect(readFileSync(file, 'utf8')).toBe(knownLine(bastion));
    const second = await SshConnection.connect(target(bastion), options({ knownHostsFile: file }));
    expect((await second.exec('echo ok')).stdout).toBe('ok\n');
    await second.close();
    // ssh itself agrees with what was recorded.
    expect(execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${bastion.port}`, '-f', file], { encoding: 'utf8' })).toContain(
      bastion.hostKeyPublic,
    );
  });

  it('refuses a changed key even with acceptNewHostKeys, and leaves known_hosts alone', async () => {
    const file = join(dir, 'kh-changed');
    const other = makeKey(join(dir, 'other_host_key'));
    const text = `# lab\n[127.0.0.1]:${bastion.port} ${other}\n`;
    writeFileSync(file, text);
    const err = await connectError(target(bastion), options({ knownHostsFile: file, acceptNewHostKeys: true }));
    expect(err.message).toContain('host key has CHANGED');
    expect(err.message).toContain('man-in-the-middle');
    expect(err.message).toContain(`${file}:2`);
    expect(err.message).toContain(fingerprint(other.split(' ')[1]));
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('asks for the key type known_hosts has, so a server with several keys is not taken for changed', async () => {
    const ecdsaPath = join(dir, 'multi', 'host_ecdsa_key');
    execFileSync('mkdir', ['-p', join(dir, 'multi')]);
    const ecdsa = makeKey(ecdsaPath, 'ecdsa');
    const multi = await startLocalSshd(join(dir, 'multi'), readFileSync(clientKey + '.pub', 'utf8').trim(), { extraHostKeys: [ecdsaPath] });
    try {
      const file = join(dir, 'kh-ecdsa-only');
      writeFileSync(file, `[127.0.0.1]:${multi.port} ${ecdsa}\n`);
      const conn = await SshConnection.connect(target(multi), options({ knownHostsFile: file }));
      await conn.close();
      // The same server, a different ecdsa key on record: changed, although its ed25519 key is unknown.
      writeFileSync(file, `[127.0.0.1]:${multi.port} ${makeKey(join(dir, 'other_ecdsa'), 'ecdsa')}\n`);
      expect((await connectError(target(multi), options({ knownHostsFile: file, acceptNewHostKeys: true }))).message).toContain(
        'host key has CHANGED: the server offers ecdsa-sha2-nistp256',
      );
    } finally {
      await multi.stop();
    }
  });

  it('refuses a @revoked key', async () => {
    const file = join(dir, 'kh-revoked');
    writeFileSync(file, knownLine(bastion) + `@revoked * ${bastion.hostKeyPublic}\n`);
    const err = await connectError(target(bastion), options({ knownHostsFile: file, acceptNewHostKeys: true }));
    expect(err.message).toContain('@revoked');
  });

  it('serializes concurrent accepts of several new hosts', async () => {
    const file = join(dir, 'kh-concurrent');
    const conns = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        SshConnection.connect(target(i % 2 ? bastion : inner, `hv${i}`), options({ knownHostsFile: file, acceptNewHostKeys: true })),
      ),
    );
    await Promise.all(conns.map((c) => c.close()));
    // Three connections to each of two new hosts: one line each, none torn.
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(lines.sort()).toEqual([knownLine(bastion).trim(), knownLine(inner).trim()].sort());
  });
});

describe('connection errors', () => {
  it('says the connection was refused', async () => {
    const port = await freePort();
    const err = await connectError({ ...target(bastion), port }, options());
    expect(err.message).toBe(`hv1 (127.0.0.1:${port}): connection refused (nothing listens on that port)`);
  });

  it('times out on a server that never speaks', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const started = Date.now();
    const err = await connectError({ ...target(bastion), port }, options({ connectTimeoutMs: 700 }));
    expect(err.message).toBe(`hv1 (127.0.0.1:${port}): timed out after 0.7s`);
    expect(Date.now() - started).toBeLessThan(3000);
    silent.close();
  });

  it('names the key when authentication fails', async () => {
    const stranger = join(dir, 'stranger');
    makeKey(stranger);
    const err = await connectError(target(bastion, 'hv1', { identityFile: stranger }), options());
    expect(err.message).toBe(`hv1 (127.0.0.1:${bastion.port}): authentication failed for user root (tried: key ${stranger})`);
  });

  it('names an unreadable or encrypted identity file', async () => {
    const missing = join(dir, 'no-such-key');
    expect((await connectError(target(bastion, 'hv1', { identityFile: missing }), options())).message).toContain(
      `cannot read identity file ${missing}: ENOENT`,
    );
    const encrypted = join(dir, 'encrypted');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', encrypted]);
    expect((await connectError(target(bastion, 'hv1', { identityFile: encrypted }), options())).message).toContain(
      `identity file ${encrypted} is encrypted`,
    );
  });
});

describe('commands over one connection', () => {
  let conn: SshConnection;
  beforeAll(async () => {
    conn = await SshConnection.connect(target(bastion), options());
  });
  afterAll(() => conn.close());

  it('returns exact stdout, stderr and exit code, never trimmed', async () => {
    const result = await conn.exec(`printf '  a\\n\\nb  '; printf ' warn \\n' >&2; exit 7`);
    expect(result).toEqual({ stdout: '  a\n\nb  ', stderr: ' warn \n', code: 7, signal: null });
    expect(await conn.exec('echo only-stderr >&2')).toEqual({ stdout: '', stderr: 'only-stderr\n', code: 0, signal: null });
  });

  it('passes stdin and returns large output intact', async () => {
    const big = Array.from({ length: 20000 }, (_, i) => `line ${i} ✓`).join('\n');
    const result = await conn.exec('cat', { stdin: big });
    expect(result.stdout).toBe(big);
  });

  it('reports a signal instead of an exit code', async () => {
    const result = await conn.exec('kill -KILL $$');
    expect(result.code).toBeNull();
    expect(result.signal).toBe('SIGKILL');
  });

  it('kills a command that outlives its timeout', async () => {
    await expect(conn.exec('sleep 5', { timeoutMs: 300 })).rejects.toThrow('hv1: command timed out after 0.3s: sleep 5');
    expect((await conn.exec('echo still-usable')).stdout).toBe('still-usable\n');
  });

  it('runs 50 sequential and 50 parallel commands, each with its own result, counting round trips', async () => {
    const before = conn.roundTrips;
    for (let i = 0; i < 50; i++) expect((await conn.exec(`echo ${i}`)).stdout).toBe(`${i}\n`);
    // More than sshd's MaxSessions (10) at once: the client queues instead of failing.
    const parallel = await Promise.all(
      Array.from({ length: 50 }, (_, i) => conn.exec(`sleep 0.0$((${i} % 5)); echo ${i}; echo e${i} >&2; exit $((${i} % 3))`)),
    );
    parallel.forEach((r, i) => expect(r).toEqual({ stdout: `${i}\n`, stderr: `e${i}\n`, code: i % 3, signal: null }));
    expect(conn.roundTrips - before).toBe(100);
  });
});

describe('a connection that drops', () => {
  it('fails the running command instead of inventing a result, and later commands too', async () => {
    const conn = await SshConnection.connect(target(bastion), options());
    // The shell's parent is the server-side process of this connection.
    await expect(conn.exec('kill -KILL $PPID; sleep 2')).rejects.toThrow(/^hv1: connection lost while running: kill -KILL/);
    await expect(conn.exec('true')).rejects.toThrow(/^hv1: connection lost/);
    await conn.close();
  });
});

describe('jump host', () => {
  it('reaches the target through the bastion, verifying both keys', async () => {
    const file = join(dir, 'kh-jump');
    writeFileSync(file, knownLine(bastion));
    const jumped = target(inner, 'hv2', { jump: target(bastion, 'bastion') });
    // The target's key is checked like any other: unknown first.
    expect((await connectError(jumped, options({ knownHostsFile: file }))).message).toContain('hv2 (127.0.0.1:');
    const conn = await SshConnection.connect(jumped, options({ knownHostsFile: file, acceptNewHostKeys: true }));
    expect(readFileSync(file, 'utf8')).toBe(knownLine(bastion) + knownLine(inner));
    // The target sees its client at a port that belongs to a child of the bastion's sshd.
    const [, clientPort, , serverPort] = (await conn.exec('echo $SSH_CONNECTION')).stdout.trim().split(' ');
    expect(Number(serverPort)).toBe(inner.port);
    const owner = execFileSync('ss', ['-Htnp', 'state', 'established', 'src', `127.0.0.1:${clientPort}`], { encoding: 'utf8' });
    const pid = Number(/pid=(\d+)/.exec(owner)?.[1]);
    const parent = Number(/PPid:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    const grandparent = Number(/PPid:\s*(\d+)/.exec(readFileSync(`/proc/${parent}/status`, 'utf8'))?.[1]);
    expect([parent, grandparent]).toContain(bastion.pid);
    await conn.close();
  });

  it('shares one bastion connection among the hosts behind it, and closes it with the last', async () => {
    const toBastion = () =>
      execFileSync('ss', ['-Htn', 'state', 'established', 'dst', `127.0.0.1:${bastion.port}`], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean).length;
    const before = toBastion();
    const conns = await Promise.all(
      [1, 2, 3].map((i) => SshConnection.connect(target(inner, `hv${i}`, { jump: target(bastion, 'bastion') }), options())),
    );
    expect(toBastion() - before).toBe(1);
    expect((await Promise.all(conns.map((c) => c.exec('echo $SSH_CONNECTION')))).every((r) => r.stdout.endsWith(` ${inner.port}\n`))).toBe(
      true,
    );
    await conns[0].close();
    expect((await conns[1].exec('echo still')).stdout).toBe('still\n');
    await Promise.all(conns.slice(1).map((c) => c.close()));
    await new Promise((r) => setTimeout(r, 100));
    expect(toBastion()).toBe(before);
  });

  it('says when the bastion cannot reach the target', async () => {
    const port = await freePort();
    const jumped = { ...target(inner, 'hv2', { jump: target(bastion, 'bastion') }), port };
    const err = await connectError(jumped, options());
    expect(err.message).toMatch(new RegExp(`^hv2 \\(127.0.0.1:${port}\\): cannot reach it through jump host bastion`));
  });
});

describe('RemoteHost over ssh', () => {
  let host: RemoteHost;
  let work: string;
  beforeAll(async () => {
    // this sshd is the machine's own: its backups go to the scratch dir, never to /var/lib/hvtune
    host = await connectHost(target(bastion), options(), undefined, join(dir, 'backups'));
    work = join(dir, 'remote-files');
  });
  afterAll(() => host.close());

  it('gathers facts on connect', () => {
    expect(host.facts.hostname).toBe(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
    expect(host.facts.kernel.release).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
  });

  it('writes atomically in one round trip, keeps a backup, and restores it', async () => {
    const path = join(work, 'sysctl.d', '90-net.conf');
    const before = host.roundTrips;
    expect(await host.writeFile(path, 'net.core.somaxconn = 1024\n')).toEqual({ backup: null });
    expect(host.roundTrips - before).toBe(1);
    const inode = Number(execFileSync('stat', ['-c', '%i', path], { encoding: 'utf8' }));
    const { backup } = await host.writeFile(path, 'net.core.somaxconn = 4096', { mode: 0o640 });
    expect(backup).toMatch(new RegExp(`^${join(dir, 'backups')}${path}@\\d{8}T\\d{6}Z\\.\\d+$`));
    expect(readFileSync(path, 'utf8')).toBe('net.core.somaxconn = 4096');
    expect(readFileSync(backup!, 'utf8')).toBe('net.core.somaxconn = 1024\n');
    // Renamed into place, not rewritten: readers see the old or the new file, never half of one.
    expect(Number(execFileSync('stat', ['-c', '%i', path], { encoding: 'utf8' }))).not.toBe(inode);
    expect(execFileSync('stat', ['-c', '%a', path], { encoding: 'utf8' }).trim()).toBe('640');
    await host.restoreFile(path, backup);
    expect(readFileSync(path, 'utf8')).toBe('net.core.somaxconn = 1024\n');
    expect(execFileSync('ls', ['-A', join(work, 'sysctl.d')], { encoding: 'utf8' })).toBe('90-net.conf\n');
  });

  it('a failed write changes nothing and leaves no temp file', async () => {
    const path = join(work, 'keep.conf');
    await host.writeFile(path, 'keep\n', { backup: false });
    const err = await host.writeFile(path, 'new\n', { owner: 'hvtune-no-such-user' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect((err as Error).message).toMatch(/^hv1: command failed with exit code 1: write .*keep\.conf\n.*hvtune-no-such-user/);
    expect(readFileSync(path, 'utf8')).toBe('keep\n');
    expect(execFileSync('ls', ['-A', work], { encoding: 'utf8' }).split('\n')).not.toContainEqual(expect.stringContaining('hvtune-tmp'));
  });

  it('reads a batch of many requests in ONE round trip', async () => {
    const files = join(work, 'batch');
    execFileSync('mkdir', ['-p', files]);
    for (let i = 0; i < 30; i++) writeFileSync(join(files, `f${i}.conf`), `value ${i}` + (i % 2 ? '\n' : ''));
    const requests: ReadRequest[] = [
      ...Array.from({ length: 30 }, (_, i): ReadRequest => ({ kind: 'file', path: join(files, `f${i}.conf`) })),
      { kind: 'file', path: join(files, 'absent') },
      { kind: 'glob', pattern: `${files}/f1*.conf` },
      { kind: 'cmd', argv: ['cat', '/proc/sys/kernel/hostname'] },
      { kind: 'cmd', argv: ['sh', '-c', 'echo oops >&2; exit 2'] },
      { kind: 'script', script: 'printf "%s" "$0"' },
    ];
    const before = host.roundTrips;
    const results = await host.read(requests);
    expect(host.roundTrips - before).toBe(1);
    for (let i = 0; i < 30; i++) expect(results[i]).toMatchObject({ content: `value ${i}` + (i % 2 ? '\n' : '') });
    expect(results[30]).toMatchObject({ content: null });
    expect(Object.keys((results[31] as { files: object }).files)).toHaveLength(11);
    expect(results[32]).toMatchObject({ stdout: host.facts.hostname + '\n', code: 0 });
    expect(results[33]).toMatchObject({ stdout: '', stderr: 'oops\n', code: 2 });
    expect(results[34]).toMatchObject({ stdout: 'sh', code: 0 });
  });

  it('run() throws RemoteCommandError naming host, command and stderr', async () => {
    await expect(host.run(['sysctl', '-w', 'hvtune.no.such.key=1'])).rejects.toThrow(
      /^hv1: command failed with exit code \d+: sysctl -w hvtune\.no\.such\.key=1\n.*hvtune/,
    );
  });
});

describe('measurements', () => {
  it('connect + one command, and 50 connections in parallel', async () => {
    let started = performance.now();
    const one = await SshConnection.connect(target(bastion), options());
    await one.exec('true');
    const single = performance.now() - started;
    await one.close();
    started = performance.now();
    const many = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const c = await SshConnection.connect(target(i % 2 ? bastion : inner, `hv${i}`), options());
        const r = await c.exec('echo $$');
        await c.close();
        return r;
      }),
    );
    const fifty = performance.now() - started;
    expect(many.every((r) => r.code === 0)).toBe(true);
    console.log(`connect+1 command: ${single.toFixed(0)} ms; 50 parallel connections+1 command each: ${fifty.toFixed(0)} ms`);
    expect(fifty).toBeLessThan(30_000);
  });
});
