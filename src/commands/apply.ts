// `hvtune apply PLAN.json`: apply exactly the changes of a saved plan; a host changed since the
// plan is refused and left untouched (src/engine/saved-plan.ts).

import type { Command } from 'commander';
import { applySavedPlan } from '../engine/saved-plan.js';
import { readSignedPlan } from '../plan-signature.js';
import { defaultRecordsDir, newRunId, writeRecord, type RunRecord } from '../records.js';
import { hostLock } from '../host-lock.js';
import { applyLines } from '../output/state.js';
import { hostConnector, loadInventory, loadModules, withConnection, withForks, type ConnectionFlags, type Session } from './session.js';

interface ApplyFlags extends ConnectionFlags {
  inventory?: string;
  forks: number;
  records?: string;
  json?: boolean;
}

export function registerApply(program: Command, session: Session): void {
  withForks(
    withConnection(
      program
        .command('apply')
        .description('Apply exactly the changes of a saved plan; a host changed since the plan is refused and left untouched.'),
    ),
  )
    .argument('<plan>', 'plan file from `hvtune plan -o` or `hvtune rollback -o`')
    .option('-i, --inventory <file>', 'inventory to connect with (default: the one the plan was made with)')
    .option('--records <dir>', 'where the run record goes (default: $HVTUNE_RECORDS or .hvtune/runs)')
    .option('--json', 'print a JSON result')
    .action(async (planFile: string, o: ApplyFlags) => session.setCode(await apply(session, planFile, o)));
}

async function apply(session: Session, planFile: string, o: ApplyFlags): Promise<number> {
  const plan = readSignedPlan(planFile);
  const inventory = loadInventory(o.inventory ?? plan.inputs.inventory.path);
  const runId = newRunId();
  const recordsDir = o.records ?? defaultRecordsDir();
  // SIGINT/SIGTERM: no host or task starts after it, the record says so; a second one exits at once
  const interrupt = session.io.interrupt;
  interrupt?.graceful();
  const marked = (r: RunRecord): RunRecord => (interrupt?.received ? { ...r, interrupted: interrupt.received } : r);
  const { record, ...result } = await applySavedPlan(plan, {
    planFile,
    inventory,
    modules: await loadModules(),
    connect: hostConnector(inventory, o),
    forks: o.forks,
    runId,
    lock: hostLock(runId),
    signal: interrupt?.signal,
    recordSoFar: (soFar) => interrupt?.atAbort(() => session.io.stderr(`run record: ${writeRecord(recordsDir, marked(soFar()))}`)),
  });
  const recordPath = writeRecord(recordsDir, marked(record));
  const code = interrupt?.exitCode ?? result.code;
  if (o.json) {
    session.io.stdout(JSON.stringify({ ...result, code, record: recordPath }, null, 2));
    return code;
  }
  const lines = applyLines(result, plan, recordPath, session.style);
  for (const l of lines.err) session.io.stderr(l);
  for (const l of lines.out) session.io.stdout(l);
  return code;
}
