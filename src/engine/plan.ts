// Read and plan: every task's reads for a host in one round trip, then each task's pure plan on
// what it read, later tasks on top of the files earlier tasks would write (the planned-file
// overlay). Every command plans through here: play, plan, apply (re-planning a saved plan),
// drift, snapshot and rollback.

import type { Change, HostHandle, Module, PlanContext, ReadRequest, ReadResult } from '../module.js';
import type { Facts } from '../facts.js';
import { pathGlobMatch } from '../glob.js';
import { errorMessage } from './errors.js';
import type { TaskInput, TaskPlan } from './types.js';

/** What one task read: its requests and their results, or the error that stopped the read. */
export interface TaskRead {
  requests: ReadRequest[];
  results: ReadResult[];
  error?: unknown;
}

/**
 * Files as earlier tasks left them (apply: written and verified) or would leave them (check):
 * later tasks see these instead of older bytes, so check mode plans honest chains and apply needs
 * no second read of a file it just wrote. path → content, null = removed.
 */
export class PlannedFiles {
  private readonly files = new Map<string, string | null>();

  /** Record the files these changes write. */
  note(changes: Change[]): void {
    for (const c of changes) if (c.diff) this.files.set(c.diff.path, c.diff.after);
  }

  overlay(results: ReadResult[]): ReadResult[] {
    if (this.files.size === 0) return results;
    return results.map((r) => {
      if (r.kind === 'file' && this.files.has(r.path)) return { ...r, content: this.files.get(r.path)! };
      if (r.kind !== 'glob') return r;
      const files = { ...r.files };
      for (const [path, content] of this.files) {
        if (!pathGlobMatch(r.pattern, path)) continue;
        if (content === null) delete files[path];
        else files[path] = content;
      }
      return { ...r, files };
    });
  }
}

/**
 * Read for many tasks in one round trip (`first` requests, such as facts, go in front). When the
 * batch fails as a whole, `first` is read alone and each task on its own, so one unreadable path
 * fails its own task and not the host.
 */
export async function readTasks(
  host: Pick<HostHandle, 'read'>,
  tasks: { module: Module; args: unknown }[],
  ctx: PlanContext,
  first: ReadRequest[] = [],
): Promise<{ reads: TaskRead[]; first: ReadResult[] }> {
  const reads: TaskRead[] = tasks.map((t) => {
    try {
      return { requests: t.module.read(t.args, ctx), results: [] };
    } catch (err) {
      return { requests: [], results: [], error: err };
    }
  });
  const all = reads.flatMap((r) => (r.error === undefined ? r.requests : []));
  if (all.length === 0 && first.length === 0) return { reads, first: [] };
  try {
    const got = await host.read([...first, ...all]);
    let at = first.length;
    for (const r of reads) if (r.error === undefined) r.results = got.slice(at, (at += r.requests.length));
    return { reads, first: got.slice(0, first.length) };
  } catch (err) {
    const firstResults = first.length ? await host.read(first) : [];
    const pending = reads.filter((r) => r.error === undefined && r.requests.length > 0);
    if (pending.length === 1) pending[0].error = err;
    else {
      for (const r of pending) {
        try {
          r.results = await host.read(r.requests);
        } catch (inner) {
          r.error = inner;
        }
      }
    }
    return { reads, first: firstResults };
  }
}

/** One task's plan on what it read, seen through the planned files. Throws what the module throws. */
export function planTask(
  task: TaskInput,
  read: TaskRead,
  files: PlannedFiles | null,
  ctx: PlanContext,
): { observed: unknown; result: ReturnType<Module['plan']> } {
  if (read.error !== undefined) throw read.error;
  const observed = task.module.parse(task.args, files ? files.overlay(read.results) : read.results, ctx);
  return { observed, result: task.module.plan(task.args, observed, ctx) };
}

/**
 * Read every task's state in one round trip and plan each task; with `overlay`, later tasks plan on
 * top of the files the earlier ones would write (as check mode does).
 */
export async function planTasks(
  host: Pick<HostHandle, 'name' | 'read'>,
  facts: Facts,
  tasks: TaskInput[],
  opts: { overlay: boolean },
): Promise<TaskPlan[]> {
  const ctx = { host: host.name, facts };
  const { reads } = await readTasks(host, tasks, ctx);
  const files = opts.overlay ? new PlannedFiles() : null;
  return tasks.map((t, i) => {
    try {
      const planned = planTask(t, reads[i], files, ctx);
      files?.note(t.restore ?? planned.result.changes);
      return planned;
    } catch (err) {
      return { error: errorMessage(err) };
    }
  });
}
