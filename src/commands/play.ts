// `hvtune play PLAYBOOK -i INVENTORY [--check] [--diff] …`: read, plan, and apply (or only show).

import type { Command } from 'commander';
import { exitCode } from '../events.js';
import { runPlaybook } from '../engine/run.js';
import { planInputs } from '../planfile.js';
import { defaultRecordsDir, playRecorder, writeRecord } from '../records.js';
import { hostLock } from '../host-lock.js';
import { plainRenderer, type Renderer } from '../output/plain.js';
import { jsonRenderer } from '../output/json.js';
import { loadInputs, playHosts, runOptions, sshConnector, withRunOptions, type RunFlags, type Session } from './session.js';

interface PlayFlags extends RunFlags {
  check?: boolean;
  diff?: boolean;
  json?: boolean;
  verbose?: boolean;
  records?: string;
}

export function registerPlay(program: Command, session: Session): void {
  withRunOptions(
    program
      .command('play')
      .description('Run a playbook against an inventory: read, plan, and apply (or only show, with --check).')
      .argument('<playbook>', 'playbook YAML file')
      .option('-C, --check', 'change nothing: show what would change (exit 2 if anything would)')
      .option('-D, --diff', 'show unified diffs of files and before → after of values'),
  )
    .option('--json', 'print one JSON report instead of progress')
    .option('-v, --verbose', 'more output (each task as it starts, round trips)')
    .option('--records <dir>', 'where the run record of an apply goes, for hvtune rollback (default: $HVTUNE_RECORDS or .hvtune/runs)')
    .action(async (playbookFile: string, o: PlayFlags) => session.setCode(await play(session, playbookFile, o)));
}

async function play(session: Session, playbookFile: string, o: PlayFlags): Promise<number> {
  const { io, style } = session;
  const { inventory, playbook, modules } = await loadInputs(playbookFile, o.inventory, o.extraVars, io.stderr);
  const check = !!o.check;
  const run = await runOptions(o);
  // every apply leaves a run record: what changed, before and after (hvtune rollback RECORD)
  const recorder = check ? null : playRecorder(planInputs(playbookFile, o.inventory, playbook));
  const renderer: Renderer = o.json
    ? jsonRenderer(io.stdout)
    : io.tty && !o.verbose
      ? // listr2 loads only for a terminal
        (await import('../output/listr.js')).listrRenderer(playHosts(playbook, inventory, o.limit), io.stdout, { diff: !!o.diff, style })
      : plainRenderer(io.stdout, { diff: !!o.diff, verbose: !!o.verbose, style });
  // a run that changes hosts holds each one's lock, named after its record (src/host-lock.ts)
  const lock = recorder ? hostLock(recorder.id) : undefined;
  const report = await runPlaybook(playbook, inventory, modules, sshConnector(inventory, o), { check, ...run, lock }, (e) => {
    recorder?.onEvent(e);
    renderer.handle(e);
  });
  await renderer.done();
  if (recorder) io.stderr(`run record: ${writeRecord(o.records ?? defaultRecordsDir(), recorder.record(report))}`);
  return exitCode(report);
}
