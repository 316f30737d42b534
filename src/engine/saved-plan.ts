// Apply a saved plan (`hvtune apply PLAN.json`): exactly the saved changes. Before changing a host,
// read it again and plan the saved tasks with their saved args: if that no longer gives the saved
// changes, someone changed the host since the plan and it is refused, untouched. Other hosts proceed.

import type { HostHandle, Module } from '../module.js';
import type { Facts } from '../facts.js';
import type { Inventory, InventoryHost } from '../inventory.js';
import { changedInputs, compareChanges, compareSealedChanges, type SavedPlan } from '../planfile.js';
import { newRunId, type RecordHost, type RunRecord } from '../records.js';
import { applyPlanned } from './apply.js';
import { errorMessage } from './errors.js';
import { forEachLimited } from './limit.js';
import { planTasks } from './plan.js';
import { resolveModule } from './restore-file.js';
import type { PlannedTask, TaskPlan } from './types.js';

export interface ConnectedHandle extends HostHandle {
  close(): Promise<void>;
}
/** Connect to an inventory host; with facts given, nothing is gathered. */
export type HostConnector = (host: InventoryHost, facts?: Facts) => Promise<ConnectedHandle>;

/** Why a task's fresh plan shows the host is no longer what the saved task was computed from. */
export function staleness(task: Pick<PlannedTask, 'task' | 'changes' | 'restore' | 'secret'>, fresh: TaskPlan): string[] {
  if ('error' in fresh) return [`${task.task}: ${fresh.error}`];
  if (task.secret && task.changes.some((c) => c.digest)) return compareSealedChanges(task.changes, fresh.result.changes);
  if (!task.restore) return compareChanges(task.changes, fresh.result.changes);
  // A restore task: planning the run's args must change none of the targets it restores.
  const targets = new Set(task.changes.map((c) => c.target));
  return fresh.result.changes
    .filter((f) => targets.has(f.target))
    .map(
      (f) =>
        `${f.target}: changed since the run (now ${JSON.stringify(f.before ?? null)}, the run left ${JSON.stringify(f.after ?? null)})`,
    );
}

/**
 * interrupted: an interrupt came before the host was started, or between its tasks; skipped: left
 * out by `apply --limit`, untouched
 */
export type HostOutcome = 'applied' | 'nothing' | 'stale' | 'failed' | 'unreachable' | 'interrupted' | 'skipped';

export interface ApplyResult {
  code: 0 | 1;
  hosts: Record<string, { status: HostOutcome; changes: number; problems: string[]; error?: string }>;
  warnings: string[];
  /** the run record, built here and written by the caller */
  record: RunRecord;
}

export async function applySavedPlan(
  plan: SavedPlan,
  opts: {
    planFile: string;
    inventory: Inventory;
    modules: ReadonlyMap<string, Module>;
    connect: HostConnector;
    forks: number;
    /** take the host's lock: settles once held, rejects naming the holder (see RunOptions.lock) */
    lock?: (host: ConnectedHandle) => Promise<void>;
    /** the id of the run record, when the caller needs it first (the locks name it) */
    runId?: string;
    /** aborted by an interrupt: no host or task starts after it (see applyPlanned) */
    signal?: AbortSignal;
    /** hears, at the start, how to build the record as it stands (an abort writes it at once) */
    recordSoFar?: (record: () => RunRecord) => void;
    /** `apply --limit`: the pattern and the plan's hosts it selects; the others are not touched */
    limit?: { pattern: string; hosts: ReadonlySet<string> };
  },
): Promise<ApplyResult> {
  const startedAt = new Date().toISOString();
  const hosts: ApplyResult['hosts'] = {};
  const warnings = changedInputs(plan.inputs).map((w) => `${w}: applying the saved plan as it was made`);
  const recordHosts: Record<string, RecordHost> = {};
  const id = opts.runId ?? newRunId();
  const names = Object.keys(plan.hosts);
  const skipped = opts.limit ? names.filter((h) => !opts.limit!.hosts.has(h)) : [];
  for (const name of skipped) hosts[name] = { status: 'skipped', changes: 0, problems: [] };
  const recordOf = (inProgress: boolean): RunRecord => ({
    format: 'hvtune-run',
    version: 1,
    id,
    command: 'apply',
    startedAt,
    finishedAt: new Date().toISOString(),
    ...(inProgress ? { inProgress: true as const } : {}),
    inputs: plan.inputs,
    plan: opts.planFile,
    ...(opts.limit ? { limit: opts.limit.pattern, skipped } : {}),
    hosts: recordHosts,
  });
  opts.recordSoFar?.(() => recordOf(true));

  await forEachLimited(
    names.filter((h) => !skipped.includes(h)),
    opts.forks,
    async (name) => {
      const saved = plan.hosts[name];
      const count = saved.tasks.reduce((n, t) => n + t.changes.length, 0);
      const out = (hosts[name] = {
        status: 'nothing' as HostOutcome,
        changes: count,
        problems: [] as string[],
        error: undefined as string | undefined,
      });
      const rec: RecordHost = (recordHosts[name] = {
        result: 'ok',
        facts: saved.facts,
        tasks: saved.tasks.map((t) => ({ ...t, result: 'not-run' })),
      });
      if (count === 0) return;
      if (opts.signal?.aborted) return void Object.assign(out, { status: 'interrupted', error: 'not started: the run was interrupted' });
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
        const held = opts.lock?.(host);
        held?.catch(() => undefined); // awaited below, once the host is read
        const tasks = saved.tasks.map((t) => ({ planned: t, module: resolveModule(opts.modules, t.module)! }));
        const fresh = await planTasks(
          host,
          saved.facts,
          tasks.map((t) => ({ module: t.module, args: t.planned.args, restore: t.planned.restore ? t.planned.changes : undefined })),
          { overlay: true },
        );
        await held;
        out.problems = saved.tasks.flatMap((t, i) => staleness(t, fresh[i]));
        if (out.problems.length) return fail('stale', `the host changed since the plan was made; nothing was changed on it`);
        await applyPlanned(host, withUnsealedChanges(tasks, fresh), (i, outcome) => Object.assign(rec.tasks[i], outcome), opts.signal);
        const skipped = rec.tasks.filter((t) => t.result === 'not-run').length;
        if (skipped) Object.assign(out, { status: 'interrupted', error: `interrupted: ${skipped} task(s) not started` });
        else out.status = 'applied';
      } catch (err) {
        fail('failed', errorMessage(err));
      } finally {
        await host.close().catch(() => undefined);
      }
    },
  );

  const record = recordOf(false);
  const code = Object.values(hosts).some((h) => !['applied', 'nothing', 'skipped'].includes(h.status)) ? 1 : 0;
  return { code, hosts, warnings, record };
}

/**
 * A secret task's saved changes hold digests, not what to write: it runs the changes planned now,
 * which staleness() found to have the same digests.
 */
function withUnsealedChanges<T extends { planned: PlannedTask }>(tasks: T[], fresh: TaskPlan[]): T[] {
  return tasks.map((t, i) => {
    const f = fresh[i];
    if (!t.planned.changes.some((c) => c.digest) || 'error' in f) return t;
    return { ...t, planned: { ...t.planned, changes: f.result.changes } };
  });
}
