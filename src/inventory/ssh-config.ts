// `~/.ssh/config` as ssh reads it for a host: HostName, User, Port, IdentityFile and ProxyJump of
// the first matching `Host` blocks. A host that ssh reaches through its config is reached the
// same way by hvtune; the inventory's own values win over it.

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import { InputError } from '../errors.js';

export interface SshConfigEntry {
  hostName?: string;
  user?: string;
  port?: number;
  identityFile?: string;
  proxyJump?: string;
}

export type SshConfigLookup = (alias: string) => SshConfigEntry;

/** The config file hvtune reads: $HVTUNE_SSH_CONFIG (empty: none), else ~/.ssh/config if it exists. */
export function defaultSshConfigPath(): string | null {
  const env = process.env.HVTUNE_SSH_CONFIG;
  if (env !== undefined) return env === '' ? null : env;
  const path = join(homedir(), '.ssh', 'config');
  return existsSync(path) ? path : null;
}

export function readSshConfig(path: string | null): SshConfigLookup {
  if (path === null) return () => ({});
  let config: SSHConfig;
  try {
    config = SSHConfig.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError([{ pos: { file: path, line: 1, column: 1 }, message: `cannot read the ssh config: ${(err as Error).message}` }]);
  }
  const cache = new Map<string, SshConfigEntry>();
  return (alias) => {
    let entry = cache.get(alias);
    if (entry) return entry;
    // matchExec false: a `Match exec` line never runs a command on the controller for us
    const c = config.compute(alias, { ignoreCase: true, matchExec: false }) as Record<string, string | string[] | undefined>;
    const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
    entry = {};
    const hostName = first(c.hostname);
    if (hostName) entry.hostName = hostName.replace(/%h/g, alias);
    const user = first(c.user);
    if (user) entry.user = user;
    const port = first(c.port);
    if (port && /^\d+$/.test(port)) entry.port = Number(port);
    const identity = first(c.identityfile);
    if (identity) entry.identityFile = identity.replace(/%d/g, homedir());
    const jump = first(c.proxyjump);
    if (jump && jump.toLowerCase() !== 'none') entry.proxyJump = jump;
    cache.set(alias, entry);
    return entry;
  };
}
