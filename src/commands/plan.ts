// `hvtune plan PLAYBOOK -i INV -o PLAN.json`: check mode that saves the plan (Terraform's
// `plan -out`). Also the check run that snapshot and drift share, and the registration of the
// plan/apply/snapshot/drift/rollback commands.

import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Module } from '../module.js';
import type { Inventory } from '../inventory.js';
import type { Playbook } from '../playbook.js';
import type { Facts } from '../facts.js';
import { exitCode, type RunEvent, type RunReport } from '../events.js';
import { parseExtraVars } from '../inventory.js';
import { runPlaybook, type Connector, type PlannedTask } from '../runner.js';
import { collectPlannedTasks, planInputs, serialisePlan, changeCount, type PlanInputs, type SavedPlan } from '../planfile.js';
import { plainRenderer } from '../output/plain.js';
import { jsonRenderer } from '../output/json.js';
import { applyCommand, type CommandIO, type HostConnector } from './apply.js';
import { rollbackCommand } from './rollback.js';
import { snapshotCommand } from './snapshot.js';
import { driftCommand } from './drift.js';

export interface StateCommandDeps {
  io: CommandIO;
  loadInputs(playbook: string, inventory: string, extraVars: string[]): Promise<{ inventory: Inventory; playbook: Playbook; modules: ReadonlyMap<string, Module> }>;
  loadInventory(file: string): Inventory;
  loadModules(): Promise<ReadonlyMap<string, Module>>;
  loadFacts(file: string): Promise<Record<string, Facts>>;
  /** the runner's connector, for check runs */
  connector(inv: Inventory, flags: Record<string, unknown>): Connector;
  /** a plain host handle, for applying saved plans and reading baselines */
  hostConnector(inv: Inventory, flags: Record<string, unknown>): HostConnector;
  withConnection(cmd: Command): Command;
  setCode(code: number): void;
}

/** Options of a check run, as commander gives them. */
export interface CheckFlags extends Record<string, unknown> {
  inventory: string;
  limit?: string;
  tags: string[];
  skipTags: string[];
  extraVars: string[];
  forks: string;
  facts?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];
const splitTags = (list: string[]) => list.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);

/** Run the playbook in check mode, handing every task's plan to `onPlanned`. Changes nothing. */
export async function checkRun(
  deps: StateCommandDeps,
  playbookFile: string,
  o: CheckFlags,
  onPlanned: (p: PlannedTask) => void,
  emit: (e: RunEvent) => void = () => undefined,
): Promise<{ report: RunReport; inputs: PlanInputs; options: SavedPlan['options'] }> {
  const { inventory, playbook, modules } = await deps.loadInputs(playbookFile, o.inventory, o.extraVars);
  const options = { limit: o.limit, tags: splitTags(o.tags), skipTags: splitTags(o.skipTags), extraVars: parseExtraVars(o.extraVars) };
  const report = await runPlaybook(
    playbook,
    inventory,
    modules,
    deps.connector(inventory, o),
    {
      check: true,
      diff: true,
      ...options,
      forks: Math.max(1, Number(o.forks) || 20),
      factsOverride: o.facts ? await deps.loadFacts(o.facts) : undefined,
      onPlanned,
    },
    emit,
  );
  return { report, inputs: planInputs(playbookFile, o.inventory, playbook), options };
}

export async function planCommand(deps: StateCommandDeps, playbookFile: string, o: CheckFlags & { output: string; json?: boolean; diff?: boolean }): Promise<number> {
  const { io } = deps;
  const collected = collectPlannedTasks();
  const renderer = o.json ? jsonRenderer(io.out) : plainRenderer(io.out, { diff: !!o.diff, verbose: false, style: io.style });
  const { report, inputs, options } = await checkRun(deps, playbookFile, o, collected.onPlanned, (e) => {
    if (e.type === 'play-start') collected.playStarted();
    renderer.handle(e);
  });
  await renderer.done();
  const code = exitCode(report);
  if (code === 1) {
    // As Terraform: a plan that could not be made on every host is not saved.
    io.err(io.style.red(`error: no plan saved: ${report.failures.map((f) => f.host).filter((h, i, a) => a.indexOf(h) === i).join(', ')} failed`));
    return 1;
  }
  const plan: SavedPlan = { format: 'hvtune-plan', version: 1, kind: 'plan', createdAt: new Date().toISOString(), inputs, options, hosts: collected.hosts };
  writeFileSync(o.output, serialisePlan(plan));
  const n = changeCount(plan);
  const msg = n === 0 ? `no changes; plan saved to ${o.output}` : `${n} change(s) saved to ${o.output}; apply exactly these with: hvtune apply ${o.output}`;
  (o.json ? io.err : io.out)(msg);
  return code;
}

/** plan, apply, snapshot, drift and rollback on the program; cli.ts calls this once. */
export function registerStateCommands(program: Command, deps: StateCommandDeps): void {
  const { io, withConnection } = deps;
  const checkOptions = (cmd: Command) =>
    withConnection(cmd)
      .requiredOption('-i, --inventory <file>', 'inventory YAML file')
      .option('-l, --limit <pattern>', 'only hosts matching this pattern')
      .option('-t, --tags <tags>', 'only tasks with these tags', collect, [])
      .option('--skip-tags <tags>', 'skip tasks with these tags', collect, [])
      .option('-e, --extra-vars <key=value>', 'extra variable; @file.yml loads a file', collect, [])
      .option('-f, --forks <n>', 'hosts handled at once', '20')
      .option('--facts <file>', 'use facts saved by `hvtune facts --save`');
  const forks = (o: { forks?: string }) => Math.max(1, Number(o.forks) || 20);

  checkOptions(program.command('plan').description('Check mode that saves the plan: every change with the observed value it was computed from (exit 2 if anything would change).'))
    .argument('<playbook>', 'playbook YAML file')
    .requiredOption('-o, --output <file>', 'where to save the plan (JSON)')
    .option('-D, --diff', 'show unified diffs of files')
    .option('--json', 'print the JSON report instead of progress')
    .action(async (playbook: string, o) => deps.setCode(await planCommand(deps, playbook, o)));

  withConnection(program.command('apply').description('Apply exactly the changes of a saved plan; a host changed since the plan is refused and left untouched.'))
    .argument('<plan>', 'plan file from `hvtune plan -o` or `hvtune rollback -o`')
    .option('-i, --inventory <file>', 'inventory to connect with (default: the one the plan was made with)')
    .option('-f, --forks <n>', 'hosts handled at once', '20')
    .option('--records <dir>', 'where the run record goes', '.hvtune/runs')
    .option('--json', 'print a JSON result')
    .action(async (planFile: string, o) => {
      const code = await applyCommand(
        planFile,
        { loadInventory: deps.loadInventory, inventory: o.inventory, modules: await deps.loadModules(), connect: (inv) => deps.hostConnector(inv, o), forks: forks(o), records: o.records, json: !!o.json },
        io,
      );
      deps.setCode(code);
    });

  checkOptions(program.command('snapshot').description('Save per host the desired, persisted and live value of every setting the playbook manages (baselines/HOST.yml).'))
    .argument('<playbook>', 'playbook YAML file')
    .requiredOption('-o, --output <dir>', 'baseline directory')
    .action(async (playbook: string, o) => deps.setCode(await snapshotCommand(deps, playbook, o)));

  checkOptions(program.command('drift').description('Compare hosts with a playbook or a baseline directory: exit 0 clean, 2 drift, 1 error.'))
    .argument('<source>', 'playbook YAML file, or a baseline directory made by `hvtune snapshot`')
    .option('--json', 'print a JSON report')
    .action(async (source: string, o) => deps.setCode(await driftCommand(deps, source, o)));

  withConnection(program.command('rollback').description('Build a plan that restores the values a recorded run changed; apply it with `hvtune apply`.'))
    .argument('<record>', 'run record (.hvtune/runs/TIME-ID.json)')
    .requiredOption('-o, --output <file>', 'where to save the rollback plan')
    .option('-i, --inventory <file>', 'inventory to connect with (default: the one of the run)')
    .option('-f, --forks <n>', 'hosts handled at once', '20')
    .option('-D, --diff', 'show unified diffs of files')
    .option('--json', 'print a JSON result')
    .action(async (record: string, o) => {
      const code = await rollbackCommand(
        record,
        { output: o.output, inventory: o.inventory, loadInventory: deps.loadInventory, modules: await deps.loadModules(), connect: (inv) => deps.hostConnector(inv, o), forks: forks(o), diff: !!o.diff, json: !!o.json },
        io,
      );
      deps.setCode(code);
    });
}
