// Run records: every apply (`play` without --check, `apply PLAN`) writes
// `.hvtune/runs/<time>-<id>.json` with each host's tasks, their rendered args, every change with
// its before and after, and what happened. `hvtune rollback RECORD` reads them back.

import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { HvtuneError } from './errors.js';
import { writePrivateFile } from './private-file.js';
import type { RunEvent } from './events.js';
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
  const hosts = Object.fromEntries(Object.entries(record.hosts).map(([name, h]) => [name, redactHost(h)]));
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

/** A host's part as written: a secret task keeps neither args nor contents, secret values redacted. */
function redactHost(host: RecordHost, secrets?: SecretValues): RecordHost {
  const out = { ...host, tasks: host.tasks.map((t) => (t.secret ? { ...sealTask(t), args: REDACTED } : t)) };
  return secrets ? secrets.scrubDeep(out) : out;
}

/** Each line of a file, read a block at a time (the spool of a large fleet is not read whole). */
function forEachLine(path: string, each: (line: string) => void): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const block = Buffer.alloc(1 << 20);
    let rest = Buffer.alloc(0);
    for (;;) {
      const n = readSync(fd, block, 0, block.length, null);
      if (n === 0) break;
      const data = Buffer.concat([rest, block.subarray(0, n)]);
      let from = 0;
      for (let eol = data.indexOf(0x0a); eol !== -1; eol = data.indexOf(0x0a, from)) {
        each(data.toString('utf8', from, eol));
        from = eol + 1;
      }
      rest = data.subarray(from);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Builds the record of a `play` run from its events and writes it: each task as planned
 * (`task-planned`), and what became of it (`task-done` with the same id).
 *
 * A host's part leaves memory when the host is done (its last play, or it failed): redacted, it
 * goes to a spool file beside the record, one line per host, and each write of the record streams
 * the spool into it. The controller holds the hosts in flight, not the fleet.
 */
export function playRecorder(inputs: PlanInputs, opts: { playHosts: string[][]; dir: string; secrets?: SecretValues }) {
  const startedAt = new Date().toISOString();
  // known from the start: the run's host locks name it
  const id = newRunId();
  const path = join(opts.dir, recordFileName(startedAt, id));
  const spool = join(opts.dir, `.${recordFileName(startedAt, id)}.hosts`);
  /** hosts in flight; a done host is in the spool */
  const hosts = new Map<string, RecordHost>();
  const tasksById = new Map<string, Map<number, RecordTask>>();
  const hostOf = (name: string) => hosts.get(name) ?? hosts.set(name, { result: 'ok', tasks: [] }).get(name)!;
  /** the last play that selects each host: when it ends on the host, the host is finished */
  const lastPlay = new Map<string, number>();
  opts.playHosts.forEach((list, i) => list.forEach((h) => lastPlay.set(h, i)));
  let play = -1;
  let dirReady = false;
  const ensureDir = () => {
    if (!dirReady) mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    dirReady = true;
  };

  /** The host's part to the spool (`"name"<TAB>{…}`: JSON escapes every tab inside), out of memory. */
  const spoolHost = (name: string) => {
    const h = hosts.get(name);
    if (!h) return;
    ensureDir();
    appendFileSync(spool, `${JSON.stringify(name)}\t${JSON.stringify(redactHost(h, opts.secrets))}\n`, { mode: 0o600 });
    hosts.delete(name);
    tasksById.delete(name);
  };

  return {
    id,
    path,
    onEvent(e: RunEvent) {
      if (e.type === 'play-start') play = e.index;
      else if (e.type === 'host-done') {
        const h = hosts.get(e.host);
        if (h && h.result === 'ok' && !e.stopped && lastPlay.get(e.host) === play) h.finished = true;
        // a failed host takes no part in later plays (as in Ansible): it is done too
        if (h && (lastPlay.get(e.host) === play || h.result !== 'ok')) spoolHost(e.host);
      } else if (e.type === 'task-planned') {
        const h = hostOf(e.host);
        h.facts = e.facts;
        const task: RecordTask = { ...e.planned, result: 'not-run' };
        h.tasks.push(task);
        const byId = tasksById.get(e.host) ?? tasksById.set(e.host, new Map()).get(e.host)!;
        byId.set(e.id, task);
      } else if (e.type === 'host-unreachable') {
        Object.assign(hostOf(e.host), { result: 'unreachable', error: e.error });
      } else if (e.type === 'host-failed') {
        Object.assign(hostOf(e.host), { result: 'failed', error: e.error });
      } else if (e.type === 'task-done' && e.status !== 'skipped') {
        const h = hostOf(e.host);
        const planned = tasksById.get(e.host)?.get(e.id);
        if (e.status === 'failed') {
          h.result = 'failed';
          // the host's first failure names it, as the report's failures list it
          h.error ??= e.error ?? 'failed';
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
    /**
     * Write the record as it stands (atomically, 0600 in a 0700 directory): while the run goes on,
     * `inProgress`; `final` once it ended (the spool is removed then). Returns its path.
     */
    write(how: { final?: boolean; interrupted?: RunRecord['interrupted'] } = {}): string {
      ensureDir();
      const header = {
        format: RECORD_FORMAT,
        version: 1,
        id,
        command: 'play',
        startedAt,
        finishedAt: new Date().toISOString(),
        ...(how.final ? {} : { inProgress: true as const }),
        ...(how.interrupted ? { interrupted: how.interrupted } : {}),
        inputs,
      };
      const head = JSON.stringify(opts.secrets ? opts.secrets.scrubDeep(header) : header, null, 2);
      const tmp = `${path}.tmp-${process.pid}`;
      const fd = openSync(tmp, 'w', 0o600);
      try {
        // the header's closing brace gives way to the hosts, one line each
        writeSync(fd, `${head.slice(0, head.lastIndexOf('}')).trimEnd()},\n  "hosts": {`);
        let first = true;
        const entry = (nameJson: string, hostJson: string) => {
          writeSync(fd, `${first ? '' : ','}\n    ${nameJson}: ${hostJson}`);
          first = false;
        };
        forEachLine(spool, (line) => {
          const tab = line.indexOf('\t');
          if (tab > 0) entry(line.slice(0, tab), line.slice(tab + 1));
        });
        for (const [name, h] of hosts) entry(JSON.stringify(name), JSON.stringify(redactHost(h, opts.secrets)));
        writeSync(fd, '\n  }\n}\n');
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      if (how.final) rmSync(spool, { force: true });
      return path;
    },
  };
}
