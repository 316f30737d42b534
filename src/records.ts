// Run records: every apply (`play` without --check, `apply PLAN`) writes
// `.hvtune/runs/<time>-<id>.json` with each host's tasks, their rendered args, every change with
// its before and after, and what happened. `hvtune rollback RECORD` reads them back.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HvtuneError } from './errors.js';
import { writePrivateFile } from './private-file.js';
import type { RunEvent, RunReport } from './events.js';
import type { Facts } from './facts.js';
import type { PlanInputs } from './planfile.js';
import type { PlannedTask } from './engine/types.js';
import { REDACTED, sealTask, type SecretValues } from './secrets.js';

export const RECORD_FORMAT = 'hvtune-run';
/** `.hvtune/runs` in the current directory; HVTUNE_RECORDS overrides it (tests point it at their lab). */
export function defaultRecordsDir(): string {
  return process.env.HVTUNE_RECORDS || '.hvtune/runs';
}

export type TaskResult = 'applied' | 'failed' | 'not-run';

export interface RecordTask extends PlannedTask {
  /** applied: every change was made and read back; failed: apply threw (modules restore what they can) */
  result: TaskResult;
  error?: string;
}

export interface RecordHost {
  result: 'ok' | 'failed' | 'unreachable' | 'refused';
  /**
   * `play` records: every play that selects the host ran to its end on it (written as the run goes,
   * so an interrupted run's record says which hosts `play --resume` may skip).
   */
  finished?: boolean;
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
  /** `apply --limit`: the pattern, and the plan's hosts it left out (untouched, not in `hosts`) */
  limit?: string;
  skipped?: string[];
  /** written while the run was still going: an interrupted run leaves this */
  inProgress?: true;
  /** the run was stopped by this signal: its tasks still `not-run` never started (`play --resume` goes on) */
  interrupted?: 'SIGINT' | 'SIGTERM';
  hosts: Record<string, RecordHost>;
}

export function newRunId(): string {
  return randomBytes(4).toString('hex');
}

/** `20250101T120000.123Z-1a2b3c4d.json`: names sort in time order. */
export function recordFileName(startedAt: string, id: string): string {
  return `${startedAt.replace(/[-:]/g, '')}-${id}.json`;
}

/**
 * Write the record atomically, 0600 in a 0700 directory (it holds managed files' contents), without
 * secrets (redactRecord); returns its path.
 */
export function writeRecord(dir: string, record: RunRecord, secrets?: SecretValues): string {
  const path = join(dir, recordFileName(record.startedAt, record.id));
  writePrivateFile(path, JSON.stringify(redactRecord(record, secrets), null, 2) + '\n');
  return path;
}

/**
 * A record as written: a secret task keeps neither args nor contents (its changes sealed: sha256
 * digests; rollback refuses it), and the run's secret values are `<redacted>` everywhere.
 */
export function redactRecord(record: RunRecord, secrets?: SecretValues): RunRecord {
  const hosts = Object.fromEntries(
    Object.entries(record.hosts).map(([name, h]) => [
      name,
      { ...h, tasks: h.tasks.map((t) => (t.secret ? { ...sealTask(t), args: REDACTED } : t)) },
    ]),
  );
  const out = { ...record, hosts };
  return secrets ? secrets.scrubDeep(out) : out;
}

export function readRecord(path: string): RunRecord {
  let data: Partial<RunRecord>;
  try {
    data = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunRecord>;
  } catch (err) {
    throw new HvtuneError(`${path}: cannot read the run record: ${(err as Error).message}`);
  }
  if (data?.format !== RECORD_FORMAT || !data.hosts || typeof data.hosts !== 'object') {
    throw new HvtuneError(
      `${path}: not a run record: expected "format": "${RECORD_FORMAT}" and "hosts" (records are in ${defaultRecordsDir()}/)`,
    );
  }
  return data as RunRecord;
}

/**
 * Builds the record of a `play` run from its events: each task as planned (`task-planned`), and
 * what became of it (`task-done` with the same id).
 */
export function playRecorder(inputs: PlanInputs, opts: { playHosts: string[][] }) {
  const startedAt = new Date().toISOString();
  // known from the start: the run's host locks name it
  const id = newRunId();
  const hosts: Record<string, RecordHost> = {};
  const byId = new Map<string, RecordTask>();
  const hostOf = (name: string) => (hosts[name] ??= { result: 'ok', tasks: [] });
  /** the last play that selects each host: when it ends on the host, the host is finished */
  const lastPlay = new Map<string, number>();
  opts.playHosts.forEach((list, i) => list.forEach((h) => lastPlay.set(h, i)));
  let play = -1;

  return {
    id,
    onEvent(e: RunEvent) {
      if (e.type === 'play-start') play = e.index;
      else if (e.type === 'host-done' && lastPlay.get(e.host) === play) {
        const h = hostOf(e.host);
        if (h.result === 'ok' && !e.stopped) h.finished = true;
      } else if (e.type === 'task-planned') {
        const h = hostOf(e.host);
        h.facts = e.facts;
        const task: RecordTask = { ...e.planned, result: 'not-run' };
        h.tasks.push(task);
        byId.set(`${e.host}\u0000${e.id}`, task);
      } else if (e.type === 'host-unreachable') {
        Object.assign(hostOf(e.host), { result: 'unreachable', error: e.error });
      } else if (e.type === 'host-failed') {
        Object.assign(hostOf(e.host), { result: 'failed', error: e.error });
      } else if (e.type === 'task-done' && e.status !== 'skipped') {
        const h = hostOf(e.host);
        const planned = byId.get(`${e.host}\u0000${e.id}`);
        if (e.status === 'failed') {
          h.result = 'failed';
          if (planned) Object.assign(planned, { result: 'failed', error: e.error });
          // failed before it could be planned (rendering, reading)
          else
            h.tasks.push({
              play: 0,
              task: e.task,
              module: e.module,
              handler: e.handler,
              args: null,
              changes: [],
              pending: [],
              result: 'failed',
              error: e.error,
            });
        } else if (planned) planned.result = 'applied';
      }
    },
    /** The record so far; without the report, a run still going (or interrupted) — `inProgress`. */
    record(report?: RunReport): RunRecord {
      if (report) for (const f of report.failures) if (hosts[f.host] && !hosts[f.host].error) hosts[f.host].error = f.message;
      return {
        format: RECORD_FORMAT,
        version: 1,
        id,
        command: 'play',
        startedAt,
        finishedAt: new Date().toISOString(),
        ...(report ? {} : { inProgress: true as const }),
        inputs,
        hosts,
      };
    },
  };
}
