// `hvtune play PLAYBOOK -i INVENTORY [--check] [--diff] …`: read, plan, and apply (or only show).

import type { Command } from 'commander';
import { HvtuneError } from '../errors.js';
import { exitCode } from '../events.js';
import { runPlaybook } from '../engine/run.js';
import { planInputs, type PlanInputs } from '../planfile.js';
import { defaultRecordsDir, playRecorder, readRecord } from '../records.js';
import { hostLock } from '../host-lock.js';
import { plainRenderer, type Renderer } from '../output/plain.js';
import { jsonRenderer } from '../output/json.js';
import { SecretValues } from '../secrets.js';
import { junitCollector } from '../output/junit.js';
import { checkTags } from '../tags.js';
import { listingLines } from '../output/listing.js';
import {
  hostsByPlay,
  loadInputs,
  playHosts,
  runOptions,
  scrubbedSession,
  splitTags,
  sshConnector,
  withJunit,
  withRunOptions,
  writeJunit,
  type RunFlags,
  type Session,
} from './session.js';

interface PlayFlags extends RunFlags {
  check?: boolean;
  diff?: boolean;
  json?: boolean;
  verbose: number;
  records?: string;
  resume?: string;
  junit?: string;
  listHosts?: boolean;
  listTasks?: boolean;
  listTags?: boolean;
  syntaxCheck?: boolean;
}

const increase = (_: string, n: number) => n + 1;

export function registerPlay(program: Command, session: Session): void {
  withJunit(
    withRunOptions(
      program
        .command('play')
        .description('Run a playbook against an inventory: read, plan, and apply (or only show, with --check).')
        .argument('<playbook>', 'playbook YAML file')
        .option('-C, --check', 'change nothing: show what would change (exit 2 if anything would)')
        .option('-D, --diff', 'show unified diffs of files and before → after of values'),
    ),
  )
    .option('--json', 'print one JSON report instead of progress')
    .option(
      '-v, --verbose',
      "more output, repeatable: -v each task and each change's details, -vv each task's time and reads, -vvv every command sent to a host",
      increase,
      0,
    )
    .option('--list-hosts', "print each play's hosts and exit, without connecting")
    .option('--list-tasks', 'print the tasks that would run and exit, without connecting')
    .option('--list-tags', "print each play's tags and exit, without connecting")
    .option('--syntax-check', 'check the playbook and inventory (as hvtune validate) and exit, without connecting')
    .option('--records <dir>', 'where the run record of an apply goes, for hvtune rollback (default: $HVTUNE_RECORDS or .hvtune/runs)')
    .option('--resume <record>', 'go on with an interrupted run: skip the hosts its run record says finished')
    .action(async (playbookFile: string, o: PlayFlags) => session.setCode(await play(session, playbookFile, o)));
}

async function play(cli: Session, playbookFile: string, o: PlayFlags): Promise<number> {
  const secrets = new SecretValues();
  const { io, style } = scrubbedSession(cli, secrets);
  const { inventory, playbook, modules } = await loadInputs(playbookFile, o.inventory, o.extraVars, io.stderr, { limit: o.limit });
  if (o.syntaxCheck) {
    io.stdout(`playbook: ${playbookFile}: valid`);
    return 0;
  }
  if (o.listHosts || o.listTasks || o.listTags) {
    const listing = { hosts: !!o.listHosts, tasks: !!o.listTasks, tags: !!o.listTags };
    const lines = listingLines(playbookFile, playbook, hostsByPlay(playbook, inventory, o.limit, undefined, o.shard), {
      ...listing,
      onlyTags: splitTags(o.tags),
      skipTags: splitTags(o.skipTags),
    });
    for (const l of lines) io.stdout(l);
    return 0;
  }
  checkTags(playbook, splitTags(o.tags));
  const check = !!o.check;
  const run = await runOptions(o);
  const inputs = planInputs(playbookFile, inventory, playbook);
  const skip = o.resume ? finishedIn(o.resume, inputs) : undefined;
  if (skip?.size) io.stderr(style.yellow(`resuming ${o.resume}: skipping ${[...skip].join(', ')} (finished in that run)`));
  // every apply leaves a run record: what changed, before and after (hvtune rollback RECORD),
  // written as the run goes so an interrupted run leaves one (hvtune play --resume RECORD)
  const recordsDir = o.records ?? defaultRecordsDir();
  const recorder = check
    ? null
    : playRecorder(inputs, { playHosts: hostsByPlay(playbook, inventory, o.limit, skip, o.shard), dir: recordsDir, secrets });
  // at most every second, and less often as the record grows: a write streams every finished host
  let lastWrite = 0;
  let writeEvery = 1_000;
  const writeProgress = () => {
    if (!recorder || Date.now() - lastWrite < writeEvery) return;
    const started = Date.now();
    recorder.write();
    lastWrite = Date.now();
    writeEvery = Math.max(1_000, 10 * (lastWrite - started));
  };
  const renderer: Renderer = o.json
    ? jsonRenderer(io.stdout)
    : io.tty && !o.verbose
      ? // listr2 loads only for a terminal
        (await import('../output/listr.js')).listrRenderer(playHosts(playbook, inventory, o.limit, skip, o.shard), io.stdout, {
          diff: !!o.diff,
          style,
        })
      : plainRenderer(io.stdout, { diff: !!o.diff, verbose: !!o.verbose, style });
  // a run that changes hosts holds each one's lock, named after its record (src/host-lock.ts)
  const lock = recorder ? hostLock(recorder.id) : undefined;
  // SIGINT/SIGTERM: an apply stops starting work and ends as below, its record marked; a second
  // signal (or any in check mode) exits at once, writing the record as it stands
  const interrupt = recorder ? io.interrupt : undefined;
  interrupt?.graceful();
  interrupt?.atAbort(() => io.stderr(`run record: ${recorder!.write({ interrupted: interrupt.received ?? undefined })}`));
  // the report keeps diffs for --json only: other outputs showed them as each task ended
  const options = { check, ...run, skip, lock, secrets, signal: interrupt?.signal, diffs: o.json ? ('keep' as const) : ('drop' as const) };
  if (o.becomePassword) secrets.add(o.becomePassword.reveal(), 'become password');
  // -vvv: each command line as sent, the script too when it travels on stdin
  const trace =
    o.verbose >= 3
      ? (host: string, line: string, script?: string) => {
          const say = o.json ? io.stderr : io.stdout;
          say(style.dim(`${host} | ssh: ${line}`));
          if (script !== undefined) say(style.dim(script.trimEnd().replace(/^/gm, `${host} |   `)));
        }
      : undefined;
  const connector = sshConnector(inventory, { ...o, trace });
  const junit = o.junit ? junitCollector(`hvtune play ${playbookFile}`, { scrub: (t) => secrets.scrub(t) }) : null;
  const report = await runPlaybook(playbook, inventory, modules, connector, options, (e) => {
    recorder?.onEvent(e);
    junit?.onEvent(e);
    renderer.handle(e);
    if (e.type === 'host-done' || e.type === 'play-end') writeProgress();
  });
  await renderer.done();
  if (junit) writeJunit(o.junit!, junit.xml());
  if (recorder) io.stderr(`run record: ${recorder.write({ final: true, interrupted: interrupt?.received ?? undefined })}`);
  return interrupt?.exitCode ?? exitCode(report);
}

/** The hosts an earlier run of the same playbook and inventory finished; other inputs: refused. */
function finishedIn(recordFile: string, inputs: PlanInputs): Set<string> {
  const record = readRecord(recordFile);
  if (record.command !== 'play')
    throw new HvtuneError(`${recordFile}: a record of hvtune ${record.command}, not of a play: nothing to resume`);
  const inventoryHashes = (i: PlanInputs) => [i.inventory, ...(i.inventoryFiles ?? [])].map((f) => f.sha256).join(' ');
  // the playbook is every file it read: an edited profile or imported file is another playbook
  const playbookHashes = (i: PlanInputs) => [i.playbook, ...(i.playbookFiles ?? [])].map((f) => f?.sha256).join(' ');
  for (const [what, then, now] of [
    ['playbook', playbookHashes(record.inputs), playbookHashes(inputs)],
    ['inventory', inventoryHashes(record.inputs), inventoryHashes(inputs)],
  ] as const) {
    if (then !== now) {
      throw new HvtuneError(
        `${recordFile}: resume refused: the ${what} is not the one that run used (${what === 'playbook' ? (inputs.playbook?.path ?? 'none') : inputs.inventory.path}); run the play without --resume`,
      );
    }
  }
  return new Set(
    Object.entries(record.hosts)
      .filter(([, h]) => h.finished && h.result === 'ok')
      .map(([name]) => name),
  );
}
