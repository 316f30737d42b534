// Rollback: the planned tasks that put back what a recorded run changed, newest first. Files are
// restored by the engine from the recorded diffs (the previous content, or removal when the run
// created the file); live values by the module's `restore` hook. A change neither can undo makes
// the host refuse, naming the module.

import type { Change, Module } from '../module.js';
import type { Inventory } from '../inventory.js';
import type { PlanHost } from '../planfile.js';
import type { RecordHost, RunRecord } from '../records.js';
import { errorMessage } from './errors.js';
import { forEachLimited } from './limit.js';
import { planTasks } from './plan.js';
import { RESTORE_FILE_MODULE, resolveModule, type RestoreFileArgs } from './restore-file.js';
import { staleness, type HostConnector } from './saved-plan.js';
import type { PlannedTask } from './types.js';

export interface RestoreStep {
  task: PlannedTask;
  module: Module;
}

/**
 * What undoing a recorded host takes, newest task first: per task, a restore task for the values
 * its module can put back, then one engine file restore per file diff. `refusals` name each change
 * nothing can undo.
 */
export function restoreSteps(
  host: RecordHost,
  modules: ReadonlyMap<string, Module>,
): { steps: RestoreStep[]; refusals: string[]; notes: string[] } {
  const steps: RestoreStep[] = [];
  const refusals: string[] = [];
  const notes: string[] = [];
  for (const t of [...host.tasks].reverse()) {
    if (t.changes.length === 0) continue;
    if (t.result !== 'applied') {
      notes.push(
        `${t.task}: ${t.result === 'failed' ? 'failed during the run (its module restores what it had changed)' : 'did not run'}; not rolled back`,
      );
      continue;
    }
    const module = resolveModule(modules, t.module);
    if (!module) {
      refusals.push(`${t.task}: module ${t.module} is not known to this hvtune`);
      continue;
    }
    if (t.secret) {
      refusals.push(
        `${t.task}: a secret task: the run record keeps no values or contents of it; the host keeps the files it replaced under /var/lib/hvtune/backups`,
      );
      continue;
    }
    if (t.restore) {
      refusals.push(`${t.task}: this run was itself a rollback of ${t.module} values; run the playbook (or its saved plan) again instead`);
      continue;
    }
    const values: Change[] = [];
    const files: PlannedTask[] = [];
    for (const c of [...t.changes].reverse()) {
      const undo = module.restore?.(c, t.args as never) ?? null;
      if (undo) values.push(undo);
      else if (c.diff && !c.finalize) {
        const args: RestoreFileArgs = { path: c.diff.path, expect: c.diff.after, content: c.diff.before };
        files.push({
          play: 0,
          task: `restore ${c.diff.path} (${t.task})`,
          module: RESTORE_FILE_MODULE.name,
          handler: false,
          args,
          changes: [],
          pending: [],
        });
      } else {
        refusals.push(`${t.module}: cannot restore ${c.target} (task "${t.task}"): the module has no restore for this change`);
      }
    }
    if (values.length)
      steps.push({
        module,
        task: {
          play: 0,
          task: `rollback ${t.task}`,
          module: t.module,
          handler: false,
          args: t.args,
          restore: true,
          changes: values,
          pending: [],
        },
      });
    for (const f of files) steps.push({ module: RESTORE_FILE_MODULE, task: f });
  }
  return { steps, refusals, notes };
}

export interface RollbackPlan {
  /** per host, the tasks that undo the run */
  hosts: Record<string, PlanHost>;
  /** per host, why it cannot be rolled back */
  errors: Record<string, string[]>;
  notes: string[];
}

/** Read every host again: a host is rolled back only if it is still as the run left it. */
export async function planRollback(
  record: RunRecord,
  opts: { inventory: Inventory; modules: ReadonlyMap<string, Module>; connect: HostConnector; forks: number },
): Promise<RollbackPlan> {
  const out: RollbackPlan = { hosts: {}, errors: {}, notes: [] };
  await forEachLimited(Object.keys(record.hosts), opts.forks, async (name) => {
    const rec = record.hosts[name];
    if (rec.result === 'refused' || rec.result === 'unreachable')
      return void out.notes.push(`${name}: ${rec.result} in that run, nothing to roll back`);
    const undo = restoreSteps(rec, opts.modules);
    out.notes.push(...undo.notes.map((n) => `${name}: ${n}`));
    if (undo.refusals.length) return void (out.errors[name] = undo.refusals);
    if (undo.steps.length === 0) return;
    const facts = rec.facts ?? { hostname: name, kernel: { release: 'unknown', version: [0, 0, 0] } };
    const invHost = opts.inventory.hosts.get(name);
    if (!invHost) return void (out.errors[name] = [`not in the inventory ${opts.inventory.file}`]);
    try {
      const host = await opts.connect(invHost, facts);
      try {
        const fresh = await planTasks(
          host,
          facts,
          undo.steps.map((s) => ({ module: s.module, args: s.task.args, restore: s.task.restore ? s.task.changes : undefined })),
          { overlay: true },
        );
        // restore tasks check the host is as the run left it; file restores are planned now (their plan checks the content)
        const problems = undo.steps.flatMap((s, i) => (s.task.restore || 'error' in fresh[i] ? staleness(s.task, fresh[i]) : []));
        if (problems.length) return void (out.errors[name] = problems);
        out.hosts[name] = {
          facts,
          tasks: undo.steps.map((s, i) => {
            const f = fresh[i];
            return s.task.restore || 'error' in f ? s.task : { ...s.task, changes: f.result.changes };
          }),
        };
      } finally {
        await host.close().catch(() => undefined);
      }
    } catch (err) {
      out.errors[name] = [errorMessage(err)];
    }
  });
  return out;
}
