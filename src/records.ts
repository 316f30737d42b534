// Run records: every apply (`play` without --check, `apply PLAN`) writes
// `.hvtune/runs/<time>-<id>.json` with each host's tasks, their rendered args, every change with
// its before and after, and what happened. `hvtune rollback RECORD` reads them back.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { HvtuneError } from './errors.js';
import type { RunEvent, RunReport } from './events.js';
import type { Facts } from './facts.js';
import { collectPlannedTasks, type PlanInputs, type PlanTask } from './planfile.js';
import type { PlannedTask } from './runner.js';

export const RECORD_FORMAT = 'hvtune-run';
/** `.hvtune/runs` in the current directory; HVTUNE_RECORDS overrides it (tests point it at their lab). */
export const DEFAULT_RECORDS_DIR = process.env.HVTUNE_RECORDS || '.hvtune/runs';

export type TaskResult = 'applied' | 'failed' | 'not-run';

export interface RecordTask extends PlanTask {
  /** applied: every change was made and read back; failed: apply threw (modules restore what they can) */
  result: TaskResult;
  error?: string;
}

export interface RecordHost {
  result: 'ok' | 'failed' | 'unreachable' | 'refused';
  error?: string;
  facts?: Facts;
  tasks: RecordTask[];
}

export interface RunRecord {
  format: typeof RECORD_FORMAT;
  version: 1;
  id: string;
  command: 'play' | 'apply';
  startedAt: string;
  finishedAt: string;
  inputs: PlanInputs;
  /** the saved plan `apply` ran */
  plan?: string;
  hosts: Record<string, RecordHost>;
}

export function newRunId(): string {
  return randomBytes(4).toString('hex');
}

/** `20250101T120000.123Z-1a2b3c4d.json`: names sort in time order. */
export function recordFileName(startedAt: string, id: string): string {
  return `${startedAt.replace(/[-:]/g, '')}-${id}.json`;
}

/** Write the record atomically; returns its path. */
export function writeRecord(dir: string, record: RunRecord): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, recordFileName(record.startedAt, record.id));
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n');
  renameSync(tmp, path);
  return path;
}

export function readRecord(path: string): RunRecord {
  let data: Partial<RunRecord>;
  try {
    data = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunRecord>;
  } catch (err) {
    throw new HvtuneError(`${path}: cannot read the run record: ${(err as Error).message}`);
  }
  if (data?.format !== RECORD_FORMAT || !data.hosts || typeof data.hosts !== 'object') {
    throw new HvtuneError(`${path}: not a run record: expected "format": "${RECORD_FORMAT}" and "hosts" (records are in ${DEFAULT_RECORDS_DIR}/)`);
  }
  return data as RunRecord;
}

/** Builds the record of a `play` run from the runner's planned tasks and events. */
export function playRecorder(inputs: PlanInputs) {
  const startedAt = new Date().toISOString();
  const collected = collectPlannedTasks();
  const hosts: Record<string, RecordHost> = {};
  const hostOf = (name: string) => (hosts[name] ??= { result: 'ok', tasks: [] });

  return {
    onPlanned(p: PlannedTask) {
      collected.onPlanned(p);
      const h = hostOf(p.host);
      h.facts = p.facts;
      h.tasks.push({ ...collected.last(p.host)!, result: 'not-run' });
    },
    onEvent(e: RunEvent) {
      if (e.type === 'play-start') collected.playStarted();
      if (e.type === 'host-unreachable') Object.assign(hostOf(e.host), { result: 'unreachable', error: e.error });
      if (e.type !== 'task-done' || e.status === 'skipped') return;
      const h = hostOf(e.host);
      // A host's tasks run one after another: the task planned last is the one done, unless it
      // already has its result (then this task failed before it could be planned).
      const last = h.tasks.at(-1);
      const planned = last && last.task === e.task && last.result === 'not-run' ? last : undefined;
      if (e.status === 'failed') {
        h.result = 'failed';
        if (planned) Object.assign(planned, { result: 'failed', error: e.error });
        else h.tasks.push({ play: 0, task: e.task, module: e.module, handler: e.handler, args: null, changes: [], pending: [], result: 'failed', error: e.error });
      } else if (planned) planned.result = 'applied';
    },
    record(report: RunReport): RunRecord {
      for (const f of report.failures) if (hosts[f.host] && !hosts[f.host].error) hosts[f.host].error = f.message;
      return { format: RECORD_FORMAT, version: 1, id: newRunId(), command: 'play', startedAt, finishedAt: new Date().toISOString(), inputs, hosts };
    },
  };
}
