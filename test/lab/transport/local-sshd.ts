// A real sshd on 127.0.0.1 for the transport tests that need more than the tier-1 lab offers
// (a second listener to jump to, a host key we can swap). It runs in a private mount namespace
// with its own /run and plain dotfiles for root, so it changes nothing on the machine. Stop it with
// stop(), which kills it by PID.

import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LocalSshd {
  address: string;
  port: number;
  pid: number;
  /** `ssh-ed25519 AAAA…` */
  hostKeyPublic: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** An ed25519 key pair made by ssh-keygen; returns `type base64`. */
export function makeKey(path: string, type = 'ed25519'): string {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'hvtune-test', '-f', path]);
  return readFileSync(path + '.pub', 'utf8')
    .split(' ')
    .slice(0, 2)
    .join(' ');
}

function bannerSeen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('data', (b: Buffer) => done(b.toString('latin1').startsWith('SSH-')));
    socket.once('error', () => done(false));
  });
}

const INIT = `
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 /run/sshd
mount --bind /usr/share/base-files/dot.bashrc /root/.bashrc
exec /usr/sbin/sshd -D -e -f "$1"
`;

/**
 * Start sshd in `dir` with host key `hostKey` (made if missing) accepting `clientPublicKey` for
 * root. The same dir and host key can be started again after stop().
 */
export async function startLocalSshd(
  dir: string,
  clientPublicKey: string,
  opts: { port?: number; hostKey?: string; extraHostKeys?: string[] } = {},
): Promise<LocalSshd> {
  mkdirSync(dir, { recursive: true });
  const hostKey = opts.hostKey ?? join(dir, 'host_ed25519_key');
  let hostKeyPublic: string;
  try {
    hostKeyPublic = readFileSync(hostKey + '.pub', 'utf8')
      .split(' ')
      .slice(0, 2)
      .join(' ');
  } catch {
    hostKeyPublic = makeKey(hostKey);
  }
  const port = opts.port ?? (await freePort());
  writeFileSync(join(dir, 'authorized_keys'), clientPublicKey + '\n', { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      ...(opts.extraHostKeys ?? []).map((k) => `HostKey ${k}`),
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'UsePAM no',
      'StrictModes no',
      'PidFile none',
      'UseDNS no',
      'PrintMotd no',
      'PrintLastLog no',
      'MaxStartups 1000',
      // The OpenSSH default, on purpose: the client must queue beyond 10 channels.
      'MaxSessions 10',
      'AllowTcpForwarding yes',
      '',
    ].join('\n'),
  );
  const log = join(dir, 'sshd.log');
  const child: ChildProcess = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-ec', INIT, 'sh', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
    writeFileSync(log, stderr);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await bannerSeen(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sshd on 127.0.0.1:${port} did not start: ${stderr}`);
    }
    await sleep(10);
  }
  const pid = child.pid!;
  return {
    address: '127.0.0.1',
    port,
    pid,
    hostKeyPublic,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, 'SIGTERM');
        await exited;
      }
    },
  };
}
