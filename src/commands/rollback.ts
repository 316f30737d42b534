// `hvtune rollback RECORD -o PLAN.json`: a plan that puts back what a recorded run changed
// (src/engine/rollback.ts), shown and saved like any plan, applied with `hvtune apply PLAN.json`.

import type { Command } from 'commander';
import { HvtuneError } from '../errors.js';
import { writePrivateFile } from '../private-file.js';
import { planRollback } from '../engine/rollback.js';
import { PLAN_FORMAT, PLAN_VERSION, changeCount, inventorySourcesOf, planInputs, playbookDirOf, type SavedPlan } from '../planfile.js';
import { signedPlanText } from '../plan-signature.js';
import { readRecord } from '../records.js';
import { rollbackLines } from '../output/state.js';
import {
  INVENTORY_FLAGS,
  collect,
  hostConnector,
  loadInventory,
  loadModules,
  withConnection,
  withForks,
  type ConnectionFlags,
  type Session,
} from './session.js';

interface RollbackFlags extends ConnectionFlags {
  output: string;
  inventory?: string[];
  forks: number;
  diff?: boolean;
  json?: boolean;
}

export function registerRollback(program: Command, session: Session): void {
  withForks(
    withConnection(
      program
        .command('rollback')
        .description('Build a plan that restores the values a recorded run changed; apply it with `hvtune apply`.'),
    ),
  )
    .argument('<record>', 'run record (.hvtune/runs/TIME-ID.json)')
    .requiredOption('-o, --output <file>', 'where to save the rollback plan')
    .option(INVENTORY_FLAGS, 'inventory to connect with (default: the one of the run; repeatable)', collect)
    .option('-D, --diff', 'show unified diffs of files')
    .option('--json', 'print a JSON result')
    .action(async (record: string, o: RollbackFlags) => session.setCode(await rollback(session, record, o)));
}

async function rollback(session: Session, recordFile: string, o: RollbackFlags): Promise<number> {
  const record = readRecord(recordFile);
  const inventory = loadInventory(o.inventory ?? inventorySourcesOf(record.inputs), {}, { playbookDir: playbookDirOf(record.inputs) });
  const undo = await planRollback(record, {
    inventory,
    modules: await loadModules(),
    connect: hostConnector(inventory, o),
    forks: o.forks,
  });
  const plan: SavedPlan = {
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    kind: 'rollback',
    record: recordFile,
    createdAt: new Date().toISOString(),
    inputs: planInputs(null, inventory, undefined),
    options: { tags: [], skipTags: [], extraVars: {} },
    hosts: undo.hosts,
  };
  const failed = Object.keys(undo.errors).length > 0;
  if (!failed) writePrivateFile(o.output, signedPlanText(plan));
  const code = failed ? 1 : changeCount(plan) > 0 ? 2 : 0;
  if (o.json) {
    session.io.stdout(
      JSON.stringify(
        { plan: failed ? null : o.output, changes: changeCount(plan), errors: undo.errors, notes: undo.notes, hosts: undo.hosts },
        null,
        2,
      ),
    );
    return code;
  }
  const lines = rollbackLines(undo, { diff: !!o.diff }, session.style);
  for (const l of lines.out) session.io.stdout(l);
  for (const l of lines.err) session.io.stderr(l);
  if (failed) throw new HvtuneError(`no rollback plan written: ${Object.keys(undo.errors).join(', ')} cannot be rolled back as recorded`);
  session.io.stdout(
    `\nrollback of ${recordFile}: ${changeCount(plan)} change(s) saved to ${o.output}; apply them with: hvtune apply ${o.output}`,
  );
  return code;
}
