// `hvtune apply PLAN.json`: apply exactly the changes of a saved plan; a host changed since the
// plan is refused and left untouched (src/engine/saved-plan.ts).

import type { Command } from 'commander';
import { applySavedPlan } from '../engine/saved-plan.js';
import { inventorySourcesOf, playbookDirOf, unsealPlan, type SavedPlan } from '../planfile.js';
import { parseExtraVars, type Inventory } from '../inventory.js';
import { InputError } from '../errors.js';
import { selectLimit } from '../patterns.js';
import { leafStrings, markedValues } from '../secrets.js';
import { readSignedPlan } from '../plan-signature.js';
import { defaultRecordsDir, newRunId, writeRecord, type RunRecord } from '../records.js';
import { hostLock } from '../host-lock.js';
import { applyLines } from '../output/state.js';
import {
  INVENTORY_FLAGS,
  collect,
  hostConnector,
  loadInventory,
  loadModules,
  scrubbedSession,
  withConnection,
  withForks,
  type ConnectionFlags,
  type Session,
} from './session.js';

interface ApplyFlags extends ConnectionFlags {
  inventory?: string[];
  forks: number;
  records?: string;
  json?: boolean;
  extraVars: string[];
  limit?: string;
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
    .option(INVENTORY_FLAGS, 'inventory to connect with (default: the one the plan was made with; repeatable)', collect)
    .option('--records <dir>', 'where the run record goes (default: $HVTUNE_RECORDS or .hvtune/runs)')
    .option('-l, --limit <pattern>', "apply only to the plan's hosts matching this pattern; the others are left untouched")
    .option('--json', 'print a JSON result')
    .option(
      '-e, --extra-vars <key=value>',
      'the secret vars the plan was made with (a plan keeps no secret value); @file.yml loads a file',
      collect,
      [],
    )
    .action(async (planFile: string, o: ApplyFlags) => session.setCode(await apply(session, planFile, o)));
}

async function apply(cli: Session, planFile: string, o: ApplyFlags): Promise<number> {
  // the signature first: an edited plan is refused before anything else is read from it
  const saved = readSignedPlan(planFile);
  const inventory = loadInventory(o.inventory ?? inventorySourcesOf(saved.inputs), {}, { playbookDir: playbookDirOf(saved.inputs) });
  // secret values come back from -e or the inventory's vars, checked against the plan's markers
  const candidates = [...leafStrings(parseExtraVars(o.extraVars)), ...[...inventory.hosts.values()].flatMap((h) => leafStrings(h.vars))];
  const plan = unsealPlan(saved, candidates, planFile);
  const secrets = markedValues(plan.secrets ?? {}, candidates);
  const limit = o.limit ? { pattern: o.limit, hosts: limitedHosts(plan, inventory, o.limit) } : undefined;
  const session = scrubbedSession(cli, secrets);
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
    limit,
    recordSoFar: (soFar) => interrupt?.atAbort(() => session.io.stderr(`run record: ${writeRecord(recordsDir, marked(soFar()), secrets)}`)),
  });
  const recordPath = writeRecord(recordsDir, marked(record), secrets);
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

/** The plan's hosts `--limit` selects (in the inventory's terms); none of them is an input error. */
function limitedHosts(plan: SavedPlan, inventory: Inventory, pattern: string): Set<string> {
  const selected = new Set(selectLimit(inventory, pattern));
  const hosts = new Set(Object.keys(plan.hosts).filter((h) => selected.has(h)));
  if (hosts.size === 0)
    throw new InputError([
      { path: '--limit', message: `"${pattern}" selects none of the plan's hosts (${Object.keys(plan.hosts).join(', ') || 'none'})` },
    ]);
  return hosts;
}
