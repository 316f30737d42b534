// What the fault suite shares: a controller in a process of its own (so it can be killed), faults
// made only inside a lab host's own namespaces (its veth end, its mounts), and the checks every
// case repeats (old or new content byte for byte, no temp file left).

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../../../src/demo/lab/tier1.js';
import { labFile } from '../play.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Poll `probe` until it returns a value; throws naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface Controller {
  child: ChildProcess;
  /** stdout and stderr so far, as they came. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code, or the signal's name. */
  exited: Promise<number | string>;
  /** SIGKILL, then wait for the end. */
  kill(): Promise<void>;
}

/**
 * `hvtune play` of `playbookYaml` in a process of its own (the built CLI), as a user starts it:
 * only a process of its own can be killed mid-run like a controller that dies.
 */
export function startController(lab: Lab, playbookYaml: string, args: string[] = []): Controller {
  const cli = join(ROOT, 'dist/src/cli.js');
  if (!existsSync(cli)) throw new Error('the fault suite runs the built CLI in a child process: npm run build first');
  const argv = [
    join(ROOT, 'bin/hvtune.js'),
    'play',
    labFile(lab, 'playbook.yml', playbookYaml),
    '-i',
    lab.inventoryPath,
    '--known-hosts',
    lab.knownHostsPath,
    '--records',
    join(lab.dir, 'runs'),
    ...args,
  ];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    output += d;
    stdout += d;
  });
  child.stderr!.on('data', (d: Buffer) => {
    output += d;
    stderr += d;
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return {
    child,
    output: () => output,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Slow the host's side of its link: a token bucket on its own veth end (eth0 in its network
 * namespace, never an interface of the machine). It paces what the host sends, so the ACKs and
 * SSH window updates a transfer to the host waits for; `del` removes it.
 */
export async function throttle(lab: Lab, host: string, rate: string): Promise<{ del(): Promise<void> }> {
  const add = await lab.exec(host, ['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', rate, 'burst', '1600', 'latency', '5s']);
  if (add.code !== 0) throw new Error(`tc on ${host}: ${add.stderr}`);
  return {
    async del() {
      const r = await lab.exec(host, ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
      if (r.code !== 0) throw new Error(`tc on ${host}: ${r.stderr}`);
    },
  };
}

/**
 * Make `host` slow to take a file: its own link paced by tc and a small TCP receive window in its
 * netns, so a few MB take seconds (measured: about 0.5 MB/s) instead of milliseconds and a fault
 * lands mid-transfer. Resolves with what takes both back.
 */
export async function slowLink(lab: Lab, host: string): Promise<() => Promise<void>> {
  const rmem = (await lab.exec(host, ['sysctl', '-n', 'net.ipv4.tcp_rmem'])).stdout.trim().split(/\s+/).join(' ');
  await lab.exec(host, ['sysctl', '-w', 'net.ipv4.tcp_rmem=4096 8192 8192']);
  const tc = await throttle(lab, host, '32kbit');
  return async () => {
    await tc.del();
    await lab.exec(host, ['sysctl', '-w', `net.ipv4.tcp_rmem=${rmem}`]);
  };
}

/** hvtune's temp files (`.NAME.hvtune-tmp.PID`) in a directory of the host, with their sizes. */
export async function tempFiles(lab: Lab, host: string, dir: string): Promise<{ name: string; size: number }[]> {
  const r = await lab.exec(host, ['find', dir, '-maxdepth', '1', '-name', '.*.hvtune-tmp.*', '-printf', '%f %s\\n']);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ name: l.split(' ')[0], size: Number(l.split(' ')[1]) }));
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * A file of `lines` numbered lines (about 76 bytes each) whose first line names `version`: two
 * versions differ in one line, so a diff of them stays cheap, and a cut copy of either is neither.
 */
export function bigFile(version: string, lines: number): string {
  const body = Array.from(
    { length: lines },
    (_, i) => `line ${String(i).padStart(7, '0')} of a file the fault suite writes whole or not\n`,
  );
  return `# version ${version}\n${body.join('')}`;
}
