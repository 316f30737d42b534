// Users of a tier-1 lab host that log in otherwise than as root with the lab key: a non-root user
// with passwordless sudo (become), and a second sshd in the host that accepts a password for one
// user (the lab's own sshd takes keys only). Everything lives in the host's upper layer and its
// namespaces: /etc/passwd, /etc/shadow and /etc/sudoers.d of the machine are not touched, and the
// second sshd ends with the host (or by stop(), by PID).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../../src/demo/lab/tier1.js';

const USER_NAME = /^[a-z][a-z0-9-]{0,15}$/;

async function must(lab: Lab, host: string, argv: string[], stdin?: string): Promise<string> {
  const r = await lab.exec(host, argv, { stdin });
  if (r.code !== 0) throw new Error(`lab: ${argv.join(' ')} on ${host} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

async function addUser(lab: Lab, host: string, user: string): Promise<void> {
  if (!USER_NAME.test(user)) throw new Error(`lab: bad user name ${JSON.stringify(user)}`);
  await must(lab, host, ['useradd', '--create-home', '--shell', '/bin/sh', user]);
  // '*' rather than useradd's locked '!': sshd without PAM refuses every login to a locked account.
  await must(lab, host, ['usermod', '-p', '*', user]);
}

/** A user that logs in with the lab's key and may run anything through `sudo -n`. */
export async function addSudoUser(lab: Lab, host: string, user: string): Promise<void> {
  await addUser(lab, host, user);
  const key = readFileSync(`${lab.keyPath}.pub`, 'utf8');
  await must(lab, host, ['install', '-d', '-m', '700', '-o', user, '-g', user, `/home/${user}/.ssh`]);
  await lab.writeFile(host, `/home/${user}/.ssh/authorized_keys`, key, 0o600);
  await must(lab, host, ['chown', `${user}:${user}`, `/home/${user}/.ssh/authorized_keys`]);
  await lab.writeFile(host, `/etc/sudoers.d/${user}`, `${user} ALL=(ALL) NOPASSWD: ALL\n`, 0o440);
}

/** A user with no key at all, only a password. */
export async function addPasswordUser(lab: Lab, host: string, user: string, password: string): Promise<void> {
  await addUser(lab, host, user);
  await must(lab, host, ['chpasswd'], `${user}:${password}\n`);
}

export interface PasswordSshd {
  port: number;
  /** known_hosts lines for the extra port (same host key as the lab's sshd). */
  knownHosts: string;
  stop(): Promise<void>;
}

/** A second sshd in the host, on `port`, that accepts passwords (and keys) for non-root users. */
export async function startPasswordSshd(lab: Lab, host: string, port = 2222): Promise<PasswordSshd> {
  const labHost = lab.hosts.find((h) => h.name === host);
  if (!labHost) throw new Error(`lab: no host ${host}`);
  const base = (await lab.readFile(host, '/etc/ssh/hvtune_lab_sshd_config')) ?? '';
  const config = base
    .split('\n')
    .map((line) =>
      line.startsWith('ListenAddress ')
        ? `ListenAddress ${labHost.address}:${port}`
        : line === 'PasswordAuthentication no'
          ? 'PasswordAuthentication yes'
          : line === 'PermitRootLogin prohibit-password'
            ? 'PermitRootLogin no'
            : line,
    )
    .join('\n');
  const path = `/etc/ssh/hvtune_lab_password_sshd_config_${port}`;
  await lab.writeFile(host, path, config, 0o600);
  const sshd = await lab.spawn(host, ['/usr/sbin/sshd', '-D', '-e', '-f', path]);
  for (let i = 0; i < 100; i++) {
    const up = await lab.exec(host, ['sh', '-c', `ss -ltn | grep -q ':${port} '`]);
    if (up.code === 0) break;
    await sleep(50);
  }
  return { port, knownHosts: `[${labHost.address}]:${port} ${labHost.hostKeyPublic}\n`, stop: sshd.stop };
}

/** An inventory of one host `name` at `address`, with these connection settings. */
export function writeInventory(dir: string, file: string, name: string, settings: Record<string, string | number | boolean>): string {
  const lines = [`all:`, `  hosts:`, `    ${name}:`, ...Object.entries(settings).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`)];
  const path = join(dir, file);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}
