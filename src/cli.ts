// The command line, with Ansible's and Terraform's conventions. `runCli` takes argv and streams so
// tests run it in-process; bin/hvtune.js calls it with the process's own.

import { Command, CommanderError, Option } from 'commander';
import { loadModules } from '../modules/index.js';
import { HvtuneError, InputError, formatProblem } from './errors.js';
import { exitCode } from './events.js';
import { loadInventory, parseExtraVars, type Inventory, type InventoryHost } from './inventory.js';
import { selectHosts, selectLimit } from './patterns.js';
import { loadPlaybook, type Playbook } from './playbook.js';
import { runPlaybook, type ConnectedHost, type Connector } from './runner.js';
import type { SshOptions, SshTarget } from './transport/ssh.js';
import { plainRenderer, type Renderer } from './output/plain.js';
import { jsonRenderer } from './output/json.js';
import { colors, noColors } from './output/format.js';
import { docText, modulesText } from './commands/doc.js';
import { factsCommand, loadFactsFile } from './commands/facts.js';
import { datedAdvice } from './dated.js';
import { registerStateCommands } from './commands/plan.js';
import { planInputs } from './planfile.js';
import { DEFAULT_RECORDS_DIR, playRecorder, writeRecord } from './records.js';
import type { Facts } from './facts.js';

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** a terminal: progress rows with listr2, colours */
  tty: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];
const splitTags = (list: string[]) => list.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);

export interface ConnectionFlags {
  knownHosts?: string;
  acceptNewHostKeys?: boolean;
  timeout: string;
}

export function sshOptions(flags: ConnectionFlags): SshOptions {
  return {
    knownHostsFile: flags.knownHosts ?? '~/.ssh/known_hosts',
    acceptNewHostKeys: !!flags.acceptNewHostKeys,
    connectTimeoutMs: Number(flags.timeout) * 1000,
  };
}

/** Inventory host → SSH target, the bastion chain included. */
export function sshTarget(inv: Inventory, host: InventoryHost, seen = new Set<string>()): SshTarget {
  const c = host.connection;
  seen.add(host.name);
  const jumpHost = c.jump && !seen.has(c.jump) ? inv.hosts.get(c.jump) : undefined;
  return {
    name: host.name,
    address: c.address,
    port: c.port,
    user: c.user,
    identityFile: c.identity_file,
    password: c.password,
    become: c.become,
    jump: jumpHost ? sshTarget(inv, jumpHost, seen) : undefined,
  };
}

/** ssh2 loads only for commands that connect: validate, modules and doc start faster. */
const loadTransport = () => import('./host.js');

export function sshConnector(inv: Inventory, opts: SshOptions): Connector {
  return async (host) => {
    const { connectHost } = await loadTransport();
    // The runner gathers facts itself (once per run, or from --facts): pass placeholders.
    const remote = await connectHost(sshTarget(inv, host), opts, { hostname: host.name, kernel: { release: 'unknown', version: [0, 0, 0] } });
    return Object.assign(remote, {
      setFacts(f: Facts) {
        remote.facts = f;
      },
    }) as ConnectedHost;
  };
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const style = io.tty ? colors : noColors;
  let code = 0;
  const program = new Command('hvtune')
    .description('Declarative performance tuning of KVM/libvirt and XenServer hosts and guests over SSH.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s.trimEnd()), writeErr: (s) => io.stderr(s.trimEnd()) })
    .showHelpAfterError();

  const withConnection = (cmd: Command) =>
    cmd
      .option('--known-hosts <file>', 'known_hosts file to verify host keys against', '~/.ssh/known_hosts')
      .option('--accept-new-host-keys', 'record keys of hosts not yet in known_hosts (a changed key is always refused)')
      .option('--timeout <seconds>', 'connection timeout', '10');

  withConnection(
    program
      .command('play')
      .description('Run a playbook against an inventory: read, plan, and apply (or only show, with --check).')
      .argument('<playbook>', 'playbook YAML file')
      .requiredOption('-i, --inventory <file>', 'inventory YAML file')
      .option('-C, --check', 'change nothing: show what would change (exit 2 if anything would)')
      .option('-D, --diff', 'show unified diffs of files and before → after of values')
      .option('-l, --limit <pattern>', 'only hosts matching this pattern (names, groups, globs, a:b, a:&b, a:!b)')
      .option('-t, --tags <tags>', 'only tasks with these tags (comma separated, repeatable)', collect, [])
      .option('--skip-tags <tags>', 'skip tasks with these tags', collect, [])
      .option('-e, --extra-vars <key=value>', 'extra variable (highest precedence); @file.yml loads a file', collect, [])
      .option('-f, --forks <n>', 'hosts handled at once', '20')
      .option('--facts <file>', 'use facts saved by `hvtune facts --save` instead of gathering them')
      .option('--json', 'print one JSON report instead of progress')
      .option('-v, --verbose', 'more output (each task as it starts, round trips)')
      .option('--records <dir>', 'where the run record of an apply goes (for hvtune rollback)', DEFAULT_RECORDS_DIR),
  ).action(async (playbookFile: string, o) => {
    const { inventory, playbook, modules } = await loadInputs(playbookFile, o.inventory, o.extraVars, io.stderr);
    const check = !!o.check;
    const factsOverride = o.facts ? await loadFactsFile(o.facts) : undefined;
    // every apply leaves a run record: what changed, before and after (hvtune rollback RECORD)
    const recorder = check ? null : playRecorder(planInputs(playbookFile, o.inventory, playbook));
    const hosts = playHosts(playbook, inventory, o.limit);
    const out = io.stdout;
    const renderer: Renderer = o.json
      ? jsonRenderer(out)
      : io.tty && !o.verbose
        ? (await import('./output/listr.js')).listrRenderer(hosts, out, { diff: !!o.diff, style }) // listr2 loads only for a terminal
        : plainRenderer(out, { diff: !!o.diff, verbose: !!o.verbose, style });
    const report = await runPlaybook(
      playbook,
      inventory,
      modules,
      sshConnector(inventory, sshOptions(o)),
      {
        check,
        diff: !!o.diff,
        limit: o.limit,
        tags: splitTags(o.tags),
        skipTags: splitTags(o.skipTags),
        extraVars: parseExtraVars(o.extraVars),
        forks: Math.max(1, Number(o.forks) || 20),
        factsOverride,
        onPlanned: recorder?.onPlanned,
      },
      (e) => {
        recorder?.onEvent(e);
        renderer.handle(e);
      },
    );
    await renderer.done();
    if (recorder) io.stderr(`run record: ${writeRecord(o.records, recorder.record(report))}`);
    code = exitCode(report);
  });

  withConnection(
    program
      .command('facts')
      .description('Gather and print facts: CPU/NUMA topology, NICs, memory, boot, role, domains.')
      .requiredOption('-i, --inventory <file>', 'inventory YAML file')
      .option('-l, --limit <pattern>', 'only hosts matching this pattern')
      .option('--json', 'print JSON')
      .option('--save <file>', 'save the facts to a file, for `hvtune play --facts FILE`')
      .option('-f, --forks <n>', 'hosts handled at once', '20'),
  ).action(async (o) => {
    const inventory = loadInventory(o.inventory);
    const ssh = sshOptions(o);
    const result = await factsCommand({
      inventory,
      limit: o.limit,
      // connectHost gathers the facts in one round trip when given none
      connect: async (host) => (await loadTransport()).connectHost(sshTarget(inventory, host), ssh),
      json: !!o.json,
      save: o.save,
      forks: Math.max(1, Number(o.forks) || 20),
      out: io.stdout,
      err: io.stderr,
    });
    code = result.code;
  });

  program
    .command('validate')
    .description('Check a playbook and inventory (schema, modules, templates) without connecting to any host.')
    .argument('<playbook>', 'playbook YAML file')
    .requiredOption('-i, --inventory <file>', 'inventory YAML file')
    .option('-e, --extra-vars <key=value>', 'extra variable', collect, [])
    .action(async (playbookFile: string, o) => {
      const { playbook, inventory } = await loadInputs(playbookFile, o.inventory, o.extraVars, io.stderr);
      const hosts = playHosts(playbook, inventory);
      const tasks = playbook.plays.reduce((n, p) => n + p.tasks.length + p.handlers.length, 0);
      for (const play of playbook.plays) {
        if (selectHosts(inventory, play.hosts).length === 0) io.stderr(style.yellow(`warning: play "${play.name}": no hosts match "${play.hosts}"`));
      }
      io.stdout(`${playbookFile}: ${playbook.plays.length} play(s), ${tasks} task(s), ${hosts.length} host(s): valid`);
    });

  program
    .command('modules')
    .description('List the modules.')
    .action(async () => io.stdout(modulesText(await loadModules())));

  program
    .command('doc')
    .description('Show the arguments of a module, from its schema (like ansible-doc).')
    .argument('<module>', 'module name')
    .action(async (name: string) => io.stdout(docText(await loadModules(), name)));

  program
    .command('demo')
    .description('Start a lab of real SSH hosts, run the example playbook with --check --diff, apply it, run it again, tear the lab down.')
    .option('--hosts <n>', 'lab hosts', '3')
    .action(async (o) => {
      const { runDemo } = await import('./commands/demo.js');
      code = await runDemo({ hosts: Math.max(1, Number(o.hosts) || 3) }, io);
    });

  registerStateCommands(program, {
    io: { out: io.stdout, err: io.stderr, style },
    loadInputs: (playbookFile, inventoryFile, extra) => loadInputs(playbookFile, inventoryFile, extra, io.stderr),
    loadInventory: (file) => loadInventory(file),
    loadModules,
    loadFacts: loadFactsFile,
    connector: (inv, flags) => sshConnector(inv, sshOptions(flags as unknown as ConnectionFlags)),
    hostConnector: (inv, flags) => async (host, facts) => (await loadTransport()).connectHost(sshTarget(inv, host), sshOptions(flags as unknown as ConnectionFlags), facts),
    withConnection,
    setCode: (c) => (code = c),
  });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    if (err instanceof InputError) {
      for (const p of err.problems) io.stderr(style.red('error: ') + formatProblem(p));
      return 1;
    }
    if (err instanceof HvtuneError) {
      io.stderr(style.red('error: ') + err.message);
      return 1;
    }
    throw err;
  }
  return code;
}

async function loadInputs(playbookFile: string, inventoryFile: string, extra: string[], warn: (s: string) => void) {
  const modules = await loadModules();
  const problems = [];
  let inventory: Inventory | undefined;
  let playbook: Playbook | undefined;
  // Report every problem of both files at once.
  try {
    inventory = loadInventory(inventoryFile, parseExtraVars(extra));
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    problems.push(...err.problems);
  }
  try {
    playbook = loadPlaybook(playbookFile, modules);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length) throw new InputError(problems);
  for (const w of [...(inventory!.warnings ?? []), ...datedAdvice(playbook!)]) warn(`warning: ${formatProblem(w)}`);
  return { inventory: inventory!, playbook: playbook!, modules };
}

/** Every host some play of the playbook runs on, in inventory order. */
function playHosts(playbook: Playbook, inventory: Inventory, limit?: string): string[] {
  const limited = limit ? new Set(selectLimit(inventory, limit)) : null;
  const all = new Set(playbook.plays.flatMap((p) => selectHosts(inventory, p.hosts)));
  return [...inventory.hosts.keys()].filter((h) => all.has(h) && (!limited || limited.has(h)));
}
