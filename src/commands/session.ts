// What every command shares: the output streams and style, the exit code, the options that mean
// the same everywhere (parsed and checked once, here), loading the inputs, and reaching hosts.

import { dirname } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import type { Module } from '../module.js';
import type { Facts } from '../facts.js';
import { formatProblem, InputError } from '../errors.js';
import { loadInventory, parseExtraVars, type Inventory, type InventoryHost } from '../inventory.js';
import type { SecretValues } from '../secrets.js';
import { loadPlaybook, type Playbook } from '../playbook.js';
import { sortProblems } from '../schema.js';
import { playScopes } from '../template-scope.js';
import { selectHosts, selectLimit } from '../patterns.js';
import { inShard, parseShard, type Shard } from '../engine/shard.js';
import { datedAdvice } from '../dated.js';
import { loadModules } from '../../modules/index.js';
import type { SshOptions, SshTarget } from '../transport/ssh.js';
import type { ConnectedHost, Connector } from '../engine/types.js';
import type { HostConnector } from '../engine/saved-plan.js';
import type { Style } from '../output/format.js';
import type { Interrupt } from '../interrupt.js';
import { loadFactsFile } from '../facts/saved.js';
import { writePrivateFile } from '../private-file.js';

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** a terminal: progress rows with listr2, colours */
  tty: boolean;
  /** SIGINT/SIGTERM of the process (bin/hvtune.js); absent when the CLI runs in-process */
  interrupt?: Interrupt;
  /** Ask for a secret on the terminal without echo (`-K`); absent where nobody can answer */
  askSecret?: (prompt: string) => Promise<string>;
}

/** A command's view of the CLI: where to write, in which style, and how it ended. */
export interface Session {
  io: CliIO;
  style: Style;
  setCode(code: number): void;
}

/**
 * The session with every secret value of the run replaced by `<redacted>` in what it prints: the
 * last line of defence behind the redaction of secret tasks (values are learnt as hosts render vars).
 */
export function scrubbedSession(session: Session, secrets: SecretValues): Session {
  const { io } = session;
  return { ...session, io: { ...io, stdout: (s) => io.stdout(secrets.scrub(s)), stderr: (s) => io.stderr(secrets.scrub(s)) } };
}

// ---- options that mean the same in every command ----

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** `-i`, repeatable: YAML or INI files, directories of them, or `host1,host2,` — merged in order. */
export const INVENTORY_FLAGS = '-i, --inventory <source>';
export const INVENTORY_HELP = 'inventory: a YAML or INI file, a directory of them, or host1,host2, (repeat -i to merge several)';
export const withInventory = (cmd: Command) => cmd.requiredOption(INVENTORY_FLAGS, INVENTORY_HELP, collect);
export const splitTags = (list: string[]) =>
  list
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter(Boolean);

/** --forks: a whole number of hosts, at least 1. */
export function parseForks(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1)
    throw new InvalidArgumentError(`expected a whole number of hosts, at least 1 (got ${JSON.stringify(value)})`);
  return n;
}

/** --timeout: seconds, more than 0. */
export function parseSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a number of seconds above 0 (got ${JSON.stringify(value)})`);
  return n;
}

/**
 * The become password of `-K`, kept out of every printed or saved form of the flags: it is
 * only read where a connection is made.
 */
export class BecomePassword {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return '<redacted>';
  }
  toString(): string {
    return '<redacted>';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'BecomePassword <redacted>';
  }
}

export interface ConnectionFlags {
  knownHosts: string;
  acceptNewHostKeys?: boolean;
  timeout: number;
  /** -u: the remote user of every host, over the inventory's */
  user?: string;
  /** -b: become root with sudo on every host */
  become?: boolean;
  /** -K: ask for the become password before connecting */
  askBecomePass?: boolean;
  /** what -K was answered (set before the command's action runs, by cli.ts) */
  becomePassword?: BecomePassword;
  /** -vvv: every command line as sent */
  trace?: SshOptions['trace'];
}

/** A remote user name as sudo and sshd accept one. */
export function parseUser(value: string): string {
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(value) || value.length > 32)
    throw new InvalidArgumentError(`expected a user name (letters, digits, _ . -), got ${JSON.stringify(value)}`);
  return value;
}

export const withConnection = (cmd: Command) =>
  cmd
    .option('--known-hosts <file>', 'known_hosts file to verify host keys against', '~/.ssh/known_hosts')
    .option('--accept-new-host-keys', 'record keys of hosts not yet in known_hosts (a changed key is always refused)')
    .option('--timeout <seconds>', 'connection timeout', parseSeconds, 10)
    .option('-u, --user <user>', "connect as this user on every host (over the inventory's user)", parseUser)
    .option('-b, --become', 'run every command as root with sudo (when the user is not root)')
    .option('-K, --ask-become-pass', "ask once for sudo's password (never stored); implies --become");

export const withForks = (cmd: Command) => cmd.option('-f, --forks <n>', 'hosts handled at once', parseForks, 20);

/** Options of a run over a playbook (play, plan, snapshot, drift). */
export interface RunFlags extends ConnectionFlags {
  inventory: string[];
  limit?: string;
  tags: string[];
  skipTags: string[];
  extraVars: string[];
  forks: number;
  facts?: string;
  shard?: Shard;
}

/** commander's parser for --shard: K/N, checked before anything runs. */
function shardOption(value: string): Shard {
  try {
    return parseShard(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof InputError ? err.problems[0].message : String(err));
  }
}

export const withRunOptions = (cmd: Command) =>
  withForks(
    withInventory(withConnection(cmd))
      .option('-l, --limit <pattern>', 'only hosts matching this pattern (names, groups, globs, a:b, a:&b, a:!b)')
      .option('-t, --tags <tags>', 'only tasks with these tags (comma separated, repeatable)', collect, [])
      .option('--skip-tags <tags>', 'skip tasks with these tags', collect, [])
      .option('-e, --extra-vars <key=value>', 'extra variable (highest precedence); @file.yml loads a file', collect, [])
      .option(
        '--shard <k/n>',
        'only the K-th of N disjoint, stable slices of the selected hosts (by a hash of the host name)',
        shardOption,
      ),
  ).option('--facts <file>', 'use facts saved by `hvtune facts --save` instead of gathering them');

export { collect };

/** `--junit FILE` (play, plan, drift): JUnit XML for CI systems. */
export const withJunit = (cmd: Command) =>
  cmd.option('--junit <file>', 'also write the result as JUnit XML (a testcase per host × task), for CI systems');

/** Write a JUnit report whole (temp file and rename); its texts were scrubbed of secrets as it was built. */
export function writeJunit(path: string, xml: string): void {
  writePrivateFile(path, xml);
}

// ---- inputs ----

export interface Inputs {
  inventory: Inventory;
  playbook: Playbook;
  modules: ReadonlyMap<string, Module>;
}

/**
 * Inventory and playbook, every problem of both at once; warnings (dated advice…) to `warn`.
 * Every template and `when:` is checked here against the variables of the hosts each play runs
 * on (within `limit`), so invalid input never reaches a connection.
 */
export async function loadInputs(
  playbookFile: string,
  inventorySources: string[],
  extra: string[],
  warn: (s: string) => void,
  opts: { limit?: string } = {},
): Promise<Inputs> {
  const modules = await loadModules();
  const problems = [];
  let inventory: Inventory | undefined;
  let playbook: Playbook | undefined;
  let extraVars: Record<string, unknown> = {};
  try {
    extraVars = parseExtraVars(extra);
    inventory = loadInventory(inventorySources, extraVars, { playbookDir: dirname(playbookFile) });
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    problems.push(...err.problems);
  }
  try {
    const scopes = inventory && (() => playScopes(inventory!, extraVars, opts.limit));
    playbook = loadPlaybook(playbookFile, modules, scopes);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length) throw new InputError(sortProblems(problems));
  for (const w of [...(inventory!.warnings ?? []), ...datedAdvice(playbook!)]) warn(`warning: ${formatProblem(w)}`);
  return { inventory: inventory!, playbook: playbook!, modules };
}

/** The hosts each play selects, in order, within `limit` and without `skip` (play --resume). */
export function hostsByPlay(
  playbook: Playbook,
  inventory: Inventory,
  limit?: string,
  skip?: ReadonlySet<string>,
  shard?: Shard,
): string[][] {
  const limited = limit ? new Set(selectLimit(inventory, limit)) : null;
  return playbook.plays.map((p) =>
    selectHosts(inventory, p.hosts).filter((h) => (!limited || limited.has(h)) && !skip?.has(h) && inShard(h, shard)),
  );
}

/** Every host some play of the playbook runs on, in inventory order. */
export function playHosts(playbook: Playbook, inventory: Inventory, limit?: string, skip?: ReadonlySet<string>, shard?: Shard): string[] {
  const all = new Set(hostsByPlay(playbook, inventory, limit, skip, shard).flat());
  return [...inventory.hosts.keys()].filter((h) => all.has(h));
}

/** The run options of the engine from a command's flags. */
export async function runOptions(o: RunFlags): Promise<{
  limit?: string;
  tags: string[];
  skipTags: string[];
  extraVars: Record<string, unknown>;
  forks: number;
  factsOverride?: Record<string, Facts>;
  shard?: Shard;
}> {
  return {
    limit: o.limit,
    shard: o.shard,
    tags: splitTags(o.tags),
    skipTags: splitTags(o.skipTags),
    extraVars: parseExtraVars(o.extraVars),
    forks: o.forks,
    factsOverride: o.facts ? await loadFactsFile(o.facts) : undefined,
  };
}

// ---- reaching hosts ----

export function sshOptions(flags: ConnectionFlags): SshOptions {
  return {
    knownHostsFile: flags.knownHosts,
    acceptNewHostKeys: !!flags.acceptNewHostKeys,
    connectTimeoutMs: flags.timeout * 1000,
    ...(flags.trace ? { trace: flags.trace } : {}),
  };
}

/** What the command line says of every host's connection (-u, -b, -K); bastions keep their own. */
export type ConnectionOverrides = Pick<ConnectionFlags, 'user' | 'become' | 'askBecomePass' | 'becomePassword'>;

/** Inventory host → SSH target, the bastion chain included. */
export function sshTarget(inv: Inventory, host: InventoryHost, over: ConnectionOverrides = {}, seen = new Set<string>()): SshTarget {
  const c = host.connection;
  seen.add(host.name);
  const jumpHost = c.jump && !seen.has(c.jump) ? (inv.hosts.get(c.jump) ?? inv.bastions?.get(c.jump)) : undefined;
  const become = c.become || !!over.become || !!over.askBecomePass;
  return {
    name: host.name,
    address: c.address,
    port: c.port,
    user: over.user ?? c.user,
    identityFile: c.identity_file,
    password: c.password,
    become,
    ...(become && over.becomePassword ? { becomePassword: over.becomePassword.reveal() } : {}),
    jump: jumpHost ? sshTarget(inv, jumpHost, {}, seen) : undefined,
    rebootCommand: c.reboot_command,
  };
}

/** ssh2 loads only for commands that connect: validate, modules and doc start faster. */
const loadTransport = () => import('../host.js');

/** The runner's connector: it gathers facts itself (once per run, or from --facts). */
export function sshConnector(inv: Inventory, flags: ConnectionFlags): Connector {
  const opts = sshOptions(flags);
  return async (host): Promise<ConnectedHost> => {
    const { connectHost } = await loadTransport();
    const remote = await connectHost(sshTarget(inv, host, flags), opts, {
      hostname: host.name,
      kernel: { release: 'unknown', version: [0, 0, 0] },
    });
    return Object.assign(remote, {
      setFacts(f: Facts) {
        remote.facts = f;
      },
    });
  };
}

/** A plain host handle (saved plans, baselines, facts): facts gathered on connect unless given. */
export function hostConnector(inv: Inventory, flags: ConnectionFlags): HostConnector {
  const opts = sshOptions(flags);
  return async (host, facts) => (await loadTransport()).connectHost(sshTarget(inv, host, flags), opts, facts);
}

export { loadInventory, loadModules };
