// `hvtune apply PLAN.json`: apply exactly the saved changes. Before changing a host, read it again
// and plan the saved tasks with their saved args: if that no longer gives the saved changes,
// someone changed the host since the plan and it is refused, untouched. Other hosts proceed.

import type { Change, HostHandle, Module, PlanResult, ReadRequest } from '../module.js';
import type { Facts } from '../facts.js';
import type { Inventory, InventoryHost } from '../inventory.js';
import { errorMessage, forEachLimited, overlayPlannedFiles } from '../runner.js';
import { changedInputs, compareChanges, readPlan, type PlanTask, type SavedPlan } from '../planfile.js';
import { DEFAULT_RECORDS_DIR, newRunId, writeRecord, type RecordHost, type RecordTask, type RunRecord } from '../records.js';
import { changeLine, type Style } from '../output/format.js';
import { RESTORE_FILE_MODULE } from './rollback.js';

export interface ConnectedHandle extends HostHandle {
  close(): Promise<void>;
}
/** Connect to an inventory host; with facts given, nothing is gathered. */
export type HostConnector = (host: InventoryHost, facts?: Facts) => Promise<ConnectedHandle>;

export interface CommandIO {
  out: (s: string) => void;
  err: (s: string) => void;
  style: Style;
}

/** A task to plan on a host: `restore` = changes that put a run's befores back (see PlanTask.restore). */
export interface HostTask {
  module: Module;
  args: unknown;
  restore?: Change[];
}

export type HostTaskPlan = { observed: unknown; result: PlanResult } | { error: string };

/** Modules of the registry plus the engine's own (file restore of rollbacks). */
export function resolveModule(modules: ReadonlyMap<string, Module>, name: string): Module | undefined {
  return modules.get(name) ?? (name === RESTORE_FILE_MODULE.name ? RESTORE_FILE_MODULE : undefined);
}

/**
 * Read every task's state in one round trip and plan each task, later tasks on top of the files
 * the earlier ones would write (as check mode does), unless `overlay` is false.
 */
export async function readAndPlan(host: HostHandle, facts: Facts, tasks: HostTask[], opts: { overlay: boolean }): Promise<HostTaskPlan[]> {
  const ctx = { host: host.name, facts };
  const requests: (ReadRequest[] | Error)[] = tasks.map((t) => {
    try {
      return t.module.read(t.args, ctx);
    } catch (err) {
      return err as Error;
    }
  });
  const all = await host.read(requests.flatMap((r) => (r instanceof Error ? [] : r)));
  const planned = new Map<string, string | null>();
  let at = 0;
  return tasks.map((t, i) => {
    const reqs = requests[i];
    if (reqs instanceof Error) return { error: errorMessage(reqs) };
    const raw = all.slice(at, (at += reqs.length));
    try {
      const observed = t.module.parse(t.args, opts.overlay ? overlayPlannedFiles(raw, planned) : raw, ctx);
      const result = t.module.plan(t.args, observed, ctx);
      for (const c of t.restore ?? result.changes) if (c.diff) planned.set(c.diff.path, c.diff.after);
      return { observed, result };
    } catch (err) {
      return { error: errorMessage(err) };
    }
  });
}

/** Why a task's fresh plan shows the host is no longer what the saved task was computed from. */
export function staleness(task: Pick<PlanTask, 'task' | 'changes' | 'restore'>, fresh: HostTaskPlan): string[] {
  if ('error' in fresh) return [`${task.task}: ${fresh.error}`];
  if (!task.restore) return compareChanges(task.changes, fresh.result.changes);
  // A restore task: planning the run's args must change none of the targets it restores.
  const targets = new Set(task.changes.map((c) => c.target));
  return fresh.result.changes
    .filter((f) => targets.has(f.target))
    .map((f) => `${f.target}: changed since the run (now ${JSON.stringify(f.before ?? null)}, the run left ${JSON.stringify(f.after ?? null)})`);
}

export type HostOutcome = 'applied' | 'nothing' | 'stale' | 'failed' | 'unreachable';

export interface ApplyResult {
  code: 0 | 1;
  hosts: Record<string, { status: HostOutcome; changes: number; problems: string[]; error?: string }>;
  warnings: string[];
  record: string | null;
}

export async function applyPlan(
  plan: SavedPlan,
  opts: { planFile: string; inventory: Inventory; modules: ReadonlyMap<string, Module>; connect: HostConnector; forks: number; recordsDir?: string },
): Promise<ApplyResult> {
  const startedAt = new Date().toISOString();
  const result: ApplyResult = { code: 0, hosts: {}, warnings: [], record: null };
  const recordHosts: Record<string, RecordHost> = {};
  for (const w of changedInputs(plan.inputs)) result.warnings.push(`${w}: applying the saved plan as it was made`);

  await forEachLimited(Object.keys(plan.hosts), opts.forks, async (name) => {
    const saved = plan.hosts[name];
    const count = saved.tasks.reduce((n, t) => n + t.changes.length, 0);
    const out = (result.hosts[name] = { status: 'nothing' as HostOutcome, changes: count, problems: [] as string[], error: undefined as string | undefined });
    const rec: RecordHost = (recordHosts[name] = { result: 'ok', facts: saved.facts, tasks: saved.tasks.map((t) => ({ ...t, result: 'not-run' })) });
    if (count === 0) return;
    const fail = (status: HostOutcome, error: string) => {
      Object.assign(out, { status, error });
      Object.assign(rec, { result: status === 'stale' ? 'refused' : status, error });
    };
    const unknown = saved.tasks.find((t) => !resolveModule(opts.modules, t.module));
    const invHost = opts.inventory.hosts.get(name);
    if (unknown) return fail('failed', `module ${unknown.module} is not known to this hvtune`);
    if (!invHost) return fail('failed', `${name} is not in the inventory ${opts.inventory.file}`);
    let host: ConnectedHandle;
    try {
      host = await opts.connect(invHost, saved.facts);
    } catch (err) {
      return fail('unreachable', errorMessage(err));
    }
    try {
      const tasks = saved.tasks.map((t) => ({ module: resolveModule(opts.modules, t.module)!, args: t.args, restore: t.restore ? t.changes : undefined }));
      const fresh = await readAndPlan(host, saved.facts, tasks, { overlay: true });
      out.problems = saved.tasks.flatMap((t, i) => staleness(t, fresh[i]));
      if (out.problems.length) return fail('stale', `the host changed since the plan was made; nothing was changed on it`);
      await applyTasks(host, rec.tasks, tasks.map((t) => t.module));
      out.status = 'applied';
    } catch (err) {
      fail('failed', errorMessage(err));
    } finally {
      await host.close().catch(() => undefined);
    }
  });

  const record: RunRecord = {
    format: 'hvtune-run',
    version: 1,
    id: newRunId(),
    command: 'apply',
    startedAt,
    finishedAt: new Date().toISOString(),
    inputs: plan.inputs,
    plan: opts.planFile,
    hosts: recordHosts,
  };
  result.record = writeRecord(opts.recordsDir ?? DEFAULT_RECORDS_DIR, record);
  result.code = Object.values(result.hosts).some((h) => h.status === 'stale' || h.status === 'failed' || h.status === 'unreachable') ? 1 : 0;
  return result;
}

/**
 * Apply the saved changes in the runner's order: per play, the tasks, then the finalizers of the
 * changes made (grub regeneration), then the handlers. Marks each record task applied or failed.
 */
async function applyTasks(host: HostHandle, tasks: RecordTask[], modules: Module[]): Promise<void> {
  const plays = [...new Set(tasks.map((t) => t.play))];
  for (const play of plays) {
    const finalizers = new Map<string, { module: Module; id: string; items: { change: Change; data?: unknown }[] }>();
    const inPlay = tasks.map((t, i) => [t, modules[i]] as const).filter(([t]) => t.play === play);
    const ordered = [...inPlay.filter(([t]) => !t.handler), null, ...inPlay.filter(([t]) => t.handler)];
    for (const entry of ordered) {
      if (entry === null) {
        for (const [key, f] of finalizers) {
          if (!f.module.finalize) throw new Error(`${key}: module ${f.module.name} has no finalize`);
          await f.module.finalize(f.id, f.items, host);
        }
        continue;
      }
      const [task, module] = entry;
      if (task.changes.length === 0) {
        task.result = 'applied';
        continue;
      }
      try {
        await module.apply(task.changes, host, task.args);
        task.result = 'applied';
      } catch (err) {
        Object.assign(task, { result: 'failed', error: errorMessage(err) });
        throw err;
      }
      for (const c of task.changes) {
        if (!c.finalize) continue;
        const key = `${module.name}:${c.finalize.id}`;
        const f = finalizers.get(key) ?? { module, id: c.finalize.id, items: [] };
        f.items.push({ change: c, data: c.finalize.data });
        finalizers.set(key, f);
      }
    }
  }
}

export async function applyCommand(
  planFile: string,
  opts: { loadInventory(file: string): Inventory; inventory?: string; modules: ReadonlyMap<string, Module>; connect(inv: Inventory): HostConnector; forks: number; records?: string; json: boolean },
  io: CommandIO,
): Promise<number> {
  const plan = readPlan(planFile);
  const inventory = opts.loadInventory(opts.inventory ?? plan.inputs.inventory.path);
  const result = await applyPlan(plan, { planFile, inventory, modules: opts.modules, connect: opts.connect(inventory), forks: opts.forks, recordsDir: opts.records });
  if (opts.json) {
    io.out(JSON.stringify(result, null, 2));
    return result.code;
  }
  const s = io.style;
  for (const w of result.warnings) io.err(s.yellow(`warning: ${w}`));
  for (const [name, h] of Object.entries(result.hosts)) {
    if (h.status === 'nothing') io.out(s.green(`${name} | nothing to do`));
    else if (h.status === 'applied') {
      io.out(s.yellow(`${name} | applied ${h.changes} change(s)`));
      for (const t of plan.hosts[name].tasks) {
        for (const c of t.changes) io.out(`    ${changeLine({ ...c, host: name, task: t.task, module: t.module, before: c.before ?? null, after: c.after ?? null, diff: null, warnings: [] }, s)}`);
      }
    } else if (h.status === 'stale') {
      io.out(s.red(`${name} | REFUSED: ${h.error}:`));
      for (const p of h.problems) io.out(s.red(`    ${p}`));
    } else io.out(s.red(`${name} | ${h.status === 'unreachable' ? 'UNREACHABLE' : 'FAILED'}: ${h.error}`));
  }
  const counts = (st: HostOutcome) => Object.values(result.hosts).filter((h) => h.status === st).length;
  io.out('');
  io.out(`applied on ${counts('applied')} host(s), nothing to do on ${counts('nothing')}, refused ${counts('stale')} (stale), failed ${counts('failed') + counts('unreachable')}`);
  if (counts('stale')) io.out('A refused host was changed after the plan was made: run hvtune plan again, review, and apply the new plan.');
  io.out(s.dim(`run record: ${result.record}`));
  return result.code;
}
