// `hvtune rollback RECORD -o PLAN.json`: a plan that puts back what a recorded run changed, shown
// and saved like any plan, applied with `hvtune apply PLAN.json`. Files are restored by the engine
// from the recorded diffs (the previous content, or removal when the run created the file); live
// values by the module's `restore` hook. A change neither can undo makes rollback refuse, naming
// the module.

import { writeFileSync } from 'node:fs';
import type { Change, Module } from '../module.js';
import type { Inventory } from '../inventory.js';
import { ApplyVerifyError, HvtuneError, TaskError } from '../errors.js';
import { errorMessage, forEachLimited, unifiedDiff } from '../runner.js';
import { changeCount, hashFile, serialisePlan, type PlanHost, type PlanTask, type SavedPlan } from '../planfile.js';
import { readRecord, type RecordHost } from '../records.js';
import { changeLine, colorDiff } from '../output/format.js';
import { readAndPlan, resolveModule, staleness, type CommandIO, type HostConnector, type HostTask } from './apply.js';

interface RestoreFileArgs {
  path: string;
  /** what the run left in the file (null: it removed it) */
  expect: string | null;
  /** what was there before the run (null: the file did not exist) */
  content: string | null;
}

/** The engine's own module: put a file back as it was before a run, if the run's content is still there. */
export const RESTORE_FILE_MODULE = {
  name: 'hvtune.restore-file',
  description: 'Restore a file to its content before a recorded run (rollback plans)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path', 'expect', 'content'],
    properties: {
      path: { type: 'string', pattern: '^/', description: 'Absolute path' },
      expect: { type: ['string', 'null'], description: 'Content the run left' },
      content: { type: ['string', 'null'], description: 'Content before the run; null removes the file' },
    },
  },
  read: (args) => [{ kind: 'file', path: args.path }],
  parse: (_args, results) => ({ content: results[0]?.kind === 'file' ? results[0].content : null }),
  plan(args, observed) {
    if (observed.content === args.content) return { changes: [] };
    if (observed.content !== args.expect) {
      throw new TaskError(`${args.path} changed since the run: it no longer has the content the run wrote, so restoring it would lose that change`);
    }
    const summary = args.content === null ? `remove ${args.path} (the run created it)` : `restore ${args.path}`;
    return { changes: [{ summary, target: args.path, effect: 'persistent', diff: { path: args.path, before: observed.content, after: args.content } }] };
  },
  async apply(_changes, host, args) {
    if (args.content === null) await host.removeFile(args.path);
    else await host.writeFile(args.path, args.content);
    const [now] = await host.read([{ kind: 'file', path: args.path }]);
    const content = now?.kind === 'file' ? now.content : null;
    if (content !== args.content) throw new ApplyVerifyError(host.name, args.path, args.content === null ? 'absent' : 'restored content', content === null ? 'absent' : 'other content');
  },
} satisfies Module<RestoreFileArgs, { content: string | null }>;

export interface RestoreStep {
  task: PlanTask;
  module: Module;
}

/**
 * What undoing a recorded host takes, newest task first: per task, a restore task for the values
 * its module can put back, then one engine file restore per file diff. `refusals` name each change
 * nothing can undo.
 */
export function restoreSteps(host: RecordHost, modules: ReadonlyMap<string, Module>): { steps: RestoreStep[]; refusals: string[]; notes: string[] } {
  const steps: RestoreStep[] = [];
  const refusals: string[] = [];
  const notes: string[] = [];
  for (const t of [...host.tasks].reverse()) {
    if (t.changes.length === 0) continue;
    if (t.result !== 'applied') {
      notes.push(`${t.task}: ${t.result === 'failed' ? 'failed during the run (its module restores what it had changed)' : 'did not run'}; not rolled back`);
      continue;
    }
    const module = resolveModule(modules, t.module);
    if (!module) {
      refusals.push(`${t.task}: module ${t.module} is not known to this hvtune`);
      continue;
    }
    if (t.restore) {
      refusals.push(`${t.task}: this run was itself a rollback of ${t.module} values; run the playbook (or its saved plan) again instead`);
      continue;
    }
    const values: Change[] = [];
    const files: PlanTask[] = [];
    for (const c of [...t.changes].reverse()) {
      const undo = module.restore?.(c, t.args as never) ?? null;
      if (undo) values.push(undo);
      else if (c.diff && !c.finalize) {
        files.push({ play: 0, task: `restore ${c.diff.path} (${t.task})`, module: RESTORE_FILE_MODULE.name, handler: false, args: { path: c.diff.path, expect: c.diff.after, content: c.diff.before } satisfies RestoreFileArgs, changes: [], pending: [] });
      } else {
        refusals.push(`${t.module}: cannot restore ${c.target} (task "${t.task}"): the module has no restore for this change`);
      }
    }
    if (values.length) steps.push({ module, task: { play: 0, task: `rollback ${t.task}`, module: t.module, handler: false, args: t.args, restore: true, changes: values, pending: [] } });
    for (const f of files) steps.push({ module: RESTORE_FILE_MODULE, task: f });
  }
  return { steps, refusals, notes };
}

export async function rollbackCommand(
  recordFile: string,
  opts: { output: string; inventory?: string; loadInventory(file: string): Inventory; modules: ReadonlyMap<string, Module>; connect(inv: Inventory): HostConnector; forks: number; diff: boolean; json: boolean },
  io: CommandIO,
): Promise<number> {
  const record = readRecord(recordFile);
  const inventoryFile = opts.inventory ?? record.inputs.inventory.path;
  const inventory = opts.loadInventory(inventoryFile);
  const connect = opts.connect(inventory);
  const hosts: Record<string, PlanHost> = {};
  const errors: Record<string, string[]> = {};
  const notes: string[] = [];

  await forEachLimited(Object.keys(record.hosts), opts.forks, async (name) => {
    const rec = record.hosts[name];
    if (rec.result === 'refused' || rec.result === 'unreachable') return void notes.push(`${name}: ${rec.result} in that run, nothing to roll back`);
    const undo = restoreSteps(rec, opts.modules);
    notes.push(...undo.notes.map((n) => `${name}: ${n}`));
    if (undo.refusals.length) return void (errors[name] = undo.refusals);
    if (undo.steps.length === 0) return;
    const facts = rec.facts ?? { hostname: name, kernel: { release: 'unknown', version: [0, 0, 0] } };
    const invHost = inventory.hosts.get(name);
    if (!invHost) return void (errors[name] = [`not in the inventory ${inventory.file}`]);
    try {
      const host = await connect(invHost, facts);
      try {
        const tasks: HostTask[] = undo.steps.map((s) => ({ module: s.module, args: s.task.args, restore: s.task.restore ? s.task.changes : undefined }));
        const fresh = await readAndPlan(host, facts, tasks, { overlay: true });
        // restore tasks check the host is as the run left it; file restores are planned now (their plan checks the content)
        const problems = undo.steps.flatMap((s, i) => (s.task.restore || 'error' in fresh[i] ? staleness(s.task, fresh[i]) : []));
        if (problems.length) return void (errors[name] = problems);
        hosts[name] = {
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
      errors[name] = [errorMessage(err)];
    }
  });

  const plan: SavedPlan = {
    format: 'hvtune-plan',
    version: 1,
    kind: 'rollback',
    record: recordFile,
    createdAt: new Date().toISOString(),
    inputs: { playbook: null, inventory: hashFile(inventoryFile), templates: [] },
    options: { tags: [], skipTags: [], extraVars: {} },
    hosts,
  };
  const failed = Object.keys(errors).length > 0;
  if (!failed) writeFileSync(opts.output, serialisePlan(plan));
  const code = failed ? 1 : changeCount(plan) > 0 ? 2 : 0;
  if (opts.json) {
    io.out(JSON.stringify({ plan: failed ? null : opts.output, changes: changeCount(plan), errors, notes, hosts }, null, 2));
    return code;
  }
  const s = io.style;
  for (const [name, h] of Object.entries(hosts)) {
    for (const t of h.tasks) {
      for (const c of t.changes) {
        io.out(`${name} | ${changeLine({ ...c, host: name, task: t.task, module: t.module, before: c.before ?? null, after: c.after ?? null, diff: null, warnings: [] }, s)}`);
        if (opts.diff && c.diff) io.out(colorDiff(unifiedDiff(c.diff.path, c.diff.before, c.diff.after), s).replace(/^/gm, '    ').trimEnd());
      }
    }
  }
  for (const n of notes) io.err(s.yellow(`note: ${n}`));
  for (const [name, list] of Object.entries(errors)) {
    io.err(s.red(`${name}: cannot roll back:`));
    for (const e of list) io.err(s.red(`    ${e}`));
  }
  if (failed) throw new HvtuneError(`no rollback plan written: ${Object.keys(errors).join(', ')} cannot be rolled back as recorded`);
  io.out(`\nrollback of ${recordFile}: ${changeCount(plan)} change(s) saved to ${opts.output}; apply them with: hvtune apply ${opts.output}`);
  return code;
}
