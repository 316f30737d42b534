// One tier-1 host (LAB.md): a netns with a veth pair to the root namespace, new mount/uts/ipc/pid
// namespaces, an overlay of the machine's / with a per-host upper dir, and a real sshd as PID 1.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostState } from './registry.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Environment of commands run inside a host: the machine's own may point at root-ns paths. */
export const HOST_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  USER: 'root',
  LOGNAME: 'root',
  LANG: 'C',
  SHELL: '/bin/sh',
};

/** Run a command to completion; never throws on a non-zero exit. */
export function run(cmd: string, argv: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code }),
    );
    child.stdin.on('error', () => undefined); // the command may exit without reading its input
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Run a setup command that must succeed; the error names the command and its stderr. */
export async function mustRun(cmd: string, argv: string[], opts: { stdin?: string } = {}): Promise<string> {
  const r = await run(cmd, argv, opts);
  if (r.code !== 0) {
    throw new Error(`lab: ${cmd} ${argv.join(' ')} failed with exit code ${r.code}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** argv that runs `argv` inside the host: all its namespaces, its root and working dir. */
export function nsenterArgv(pid: number, argv: string[]): string[] {
  return ['-t', String(pid), '-n', '-m', '-u', '-i', '-p', '-r', '-w', '--', ...argv];
}

/** An ed25519 key pair without passphrase; returns the public key line. */
export async function generateKey(path: string, comment: string): Promise<string> {
  await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

export const SSHD_CONFIG_PATH = '/etc/ssh/hvtune_lab_sshd_config';
const HOST_KEY_PATH = '/etc/ssh/hvtune_lab_host_ed25519_key';

function sshdConfig(address: string): string {
  return [
    `ListenAddress ${address}:22`,
    `HostKey ${HOST_KEY_PATH}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'UsePAM no',
    // The upper layer's modes are ours, not the machine's; do not let sshd second-guess them.
    'StrictModes no',
    'Subsystem sftp internal-sftp',
    'PidFile none',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    // Tests open many connections at once; the default 10:30:100 drops some of them.
    'MaxStartups 1000',
    'MaxSessions 100',
    'AcceptEnv LANG LC_*',
    '',
  ].join('\n');
}

export function hostPaths(host: HostState): { upper: string; work: string; merged: string; log: string } {
  return { upper: `${host.dir}/upper`, work: `${host.dir}/work`, merged: `${host.dir}/merged`, log: `${host.dir}/sshd.log` };
}

/**
 * Fill the upper layer before the overlay is mounted (writing to it is then safe): sshd config and
 * host key, root's authorised key, plain dotfiles (the machine's /root/.bashrc is slow), hostname
 * and its /etc/hosts line.
 * Returns the host's public key.
 */
export async function prepareUpper(host: HostState, clientPublicKey: string): Promise<string> {
  const { upper, work, merged } = hostPaths(host);
  for (const d of [work, merged, `${upper}/etc/ssh`]) mkdirSync(d, { recursive: true, mode: 0o755 });
  mkdirSync(`${upper}/root/.ssh`, { recursive: true, mode: 0o700 });
  writeFileSync(`${upper}/root/.ssh/authorized_keys`, clientPublicKey + '\n', { mode: 0o600 });
  copyFileSync('/usr/share/base-files/dot.bashrc', `${upper}/root/.bashrc`);
  copyFileSync('/usr/share/base-files/dot.profile', `${upper}/root/.profile`);
  writeFileSync(`${upper}/etc/hostname`, host.name + '\n');
  // Daemons (libvirtd) resolve their own hostname; there is no DNS for lab names.
  const machineHosts = readFileSync('/etc/hosts', 'utf8');
  writeFileSync(`${upper}/etc/hosts`, `${machineHosts.replace(/\n?$/, '\n')}${host.subnet.hostAddress}\t${host.name}\n`);
  writeFileSync(`${upper}${SSHD_CONFIG_PATH}`, sshdConfig(host.subnet.hostAddress));
  const publicKey = await generateKey(`${upper}${HOST_KEY_PATH}`, `${host.name}@hvtune-lab`);
  return publicKey.split(' ').slice(0, 2).join(' ');
}

/** veth pair: root end hvtN with the .1 address, host end eth0 with the .2 address. */
export async function createNetwork(host: HostState): Promise<void> {
  const { veth, rootAddress, hostAddress } = host.subnet;
  // Four queues so that `ethtool -l/-L` has something to change inside a host.
  const queues = 'numtxqueues 4 numrxqueues 4';
  await mustRun('ip', ['-batch', '-'], {
    stdin: [
      `netns add ${host.netns}`,
      `link add ${veth} ${queues} type veth peer name eth0 netns ${host.netns} ${queues}`,
      `addr add ${rootAddress}/30 dev ${veth}`,
      `link set ${veth} up`,
      '',
    ].join('\n'),
  });
  await mustRun('ip', ['-n', host.netns, '-batch', '-'], {
    stdin: [`addr add ${hostAddress}/30 dev eth0`, 'link set lo up', 'link set eth0 up', ''].join('\n'),
  });
}

// Runs as PID 1 of the new pid namespace, inside the host's netns and its private mount namespace.
// Fresh /proc, /sys (the netns's), /run, /tmp, /dev/shm and devpts: never the machine's.
const INIT_SCRIPT = `
M=$1 UPPER=$2 WORK=$3 NAME=$4 CONFIG=$5
mount -t overlay overlay -o "lowerdir=/,upperdir=$UPPER,workdir=$WORK" "$M"
mount -t proc proc "$M/proc"
mount -t sysfs sysfs "$M/sys"
mount --rbind /dev "$M/dev"
mount -t tmpfs -o mode=1777 tmpfs "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$M/dev/pts"
mount --bind "$M/dev/pts/ptmx" "$M/dev/ptmx"
mount -t tmpfs -o mode=755 tmpfs "$M/run"
mkdir -m 755 "$M/run/sshd"
mount -t tmpfs -o mode=1777 tmpfs "$M/tmp"
hostname "$NAME"
shift 5
# The lab's shadows (source, target pairs), in the order they were made: before sshd answers, so no
# client ever reaches a machine-global file that a shadow should hide.
while [ $# -ge 2 ]; do
  mount --bind "$1" "$M$2"
  shift 2
done
exec chroot "$M" /usr/sbin/sshd -D -e -f "$CONFIG"
`;

/** A per-host file or directory bind-mounted over `target` (a path inside the host). */
export interface Bind {
  source: string;
  target: string;
}

/**
 * Start the host's init, with `binds` in place before sshd starts. setpriv's parent-death signal and
 * unshare --kill-child make the host die with this process even on SIGKILL; what is left (netns,
 * dirs) is lab-clean's.
 */
export async function startInit(host: HostState, binds: Bind[] = []): Promise<void> {
  const { upper, work, merged, log } = hostPaths(host);
  const logFd = openSync(log, 'a');
  const argv = [
    '--pdeathsig',
    'KILL',
    'nsenter',
    `--net=/run/netns/${host.netns}`,
    'unshare',
    '--mount',
    '--uts',
    '--ipc',
    '--pid',
    '--kill-child',
    '--propagation',
    'private',
    '--',
    'sh',
    '-ec',
    INIT_SCRIPT,
    'sh',
    merged,
    upper,
    work,
    host.name,
    SSHD_CONFIG_PATH,
    ...binds.flatMap((b) => [b.source, b.target]),
  ];
  const child = spawn('setpriv', argv, { stdio: ['ignore', logFd, logFd], env: HOST_ENV });
  closeSync(logFd);
  host.wrapper = child;
  host.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  host.pid = await forkedChildPid(child, log, `host ${host.name}`);
}

export function running(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

/**
 * PID of the process that nsenter/unshare forked into the target pid namespace (the one that
 * matters), read from /proc as soon as it exists.
 */
export async function forkedChildPid(child: ChildProcess, log: string, what: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
      if (children) return Number(children.split(' ')[0]);
    } catch {
      // not there yet, or the child already exited (checked below)
    }
    if (!running(child) || Date.now() > deadline) {
      throw new Error(`lab: ${what} did not start: ${readFileSync(log, 'utf8').trim()}`);
    }
    await sleep(2);
  }
}

function sshBannerSeen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('data', (b: Buffer) => done(b.toString('latin1').startsWith('SSH-')));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** Wait until sshd answers with its banner; the error carries sshd's own log. */
export async function waitForSsh(host: HostState, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await sshBannerSeen(host.subnet.hostAddress, 22))) {
    if (!running(host.wrapper) || Date.now() > deadline) {
      const log = readFileSync(hostPaths(host).log, 'utf8').trim();
      throw new Error(`lab: sshd of ${host.name} at ${host.subnet.hostAddress}:22 did not answer: ${log}`);
    }
    await sleep(5);
  }
}
