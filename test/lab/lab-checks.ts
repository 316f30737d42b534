// What lab tests check hosts with: the OpenSSH client against a lab host, and what a lab may leave
// on the machine (processes, mounts in any mount namespace, network namespaces).

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Lab, LabHost } from '../../src/demo/lab/tier1.js';

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCommand(cmd: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The OpenSSH client, strict about host keys, reading only the lab's known_hosts. */
export function ssh(lab: Lab, host: LabHost, command: string, knownHosts = lab.knownHostsPath): Promise<Result> {
  return runCommand('ssh', [
    '-F',
    '/dev/null',
    '-i',
    lab.keyPath,
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=5',
    '-p',
    String(host.port),
    `root@${host.address}`,
    command,
  ]);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every mount, in every mount namespace on the machine, that mentions `path`. */
export function mountsMentioning(path: string): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const ns = readlinkSync(`/proc/${pid}/ns/mnt`);
      if (seen.has(ns)) continue;
      seen.add(ns);
      found.push(
        ...readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
          .split('\n')
          .filter((l) => l.includes(path)),
      );
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

export const netnsList = async (): Promise<string> => (await runCommand('ip', ['netns', 'list'])).stdout;
