// `hvtune report merge FILE…`: the `--json` reports or run records of a run's shards (`--shard
// K/N` on N controllers) merged into one recap, with the exit code a single run would have.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { HvtuneError } from '../errors.js';
import { exitCode, type RunReport } from '../events.js';
import { mergeRecords, mergeReports, recordExitCode } from '../engine/merge.js';
import { recapLines } from '../output/format.js';
import { writePrivateFile } from '../private-file.js';
import { RECORD_FORMAT, newRunId, type RunRecord } from '../records.js';
import type { Session } from './session.js';

export function registerReport(program: Command, session: Session): void {
  const report = program.command('report').description('Work with the reports and run records of runs.');
  report
    .command('merge')
    .description('Merge the --json reports (or the run records) of the shards of one run into one recap, with the same exit code rules.')
    .argument('<files...>', '--json reports of `hvtune play/plan … --shard K/N --json`, or their run records')
    .option('--json', 'print the merged report (or record) as JSON')
    .option('-o, --output <file>', 'save the merged report or record (a merged record is what `hvtune rollback` takes)')
    .action((files: string[], o: { json?: boolean; output?: string }) => session.setCode(merge(session, files, o)));
}

function merge(session: Session, files: string[], o: { json?: boolean; output?: string }): number {
  const parsed = files.map((file) => {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new HvtuneError(`${file}: cannot read it as JSON: ${(err as Error).message}`);
    }
    const d = data as Partial<RunRecord & RunReport>;
    if (d?.format === RECORD_FORMAT && d.hosts) return { file, record: data as RunRecord };
    if (d && typeof d.recap === 'object' && Array.isArray(d.changes)) return { file, report: data as RunReport };
    throw new HvtuneError(`${file}: neither a --json report (recap, changes…) nor a run record ("format": "${RECORD_FORMAT}")`);
  });
  const records = parsed.flatMap((p) => (p.record ? [{ file: p.file, record: p.record }] : []));
  const reports = parsed.flatMap((p) => (p.report ? [{ file: p.file, report: p.report }] : []));
  if (records.length && reports.length) throw new HvtuneError('report merge: give reports or records, not both');
  if (reports.length) {
    const merged = mergeReports(reports);
    if (o.output) writePrivateFile(o.output, `${JSON.stringify(merged, null, 2)}\n`);
    if (o.json) session.io.stdout(JSON.stringify(merged, null, 2));
    else for (const l of recapLines(merged, session.style)) session.io.stdout(l);
    return exitCode(merged);
  }
  const merged = mergeRecords(records, newRunId());
  if (o.output) writePrivateFile(o.output, `${JSON.stringify(merged, null, 2)}\n`);
  if (o.json) session.io.stdout(JSON.stringify(merged, null, 2));
  else
    for (const [host, h] of Object.entries(merged.hosts)) {
      const applied = h.tasks.filter((t) => t.result === 'applied').length;
      session.io.stdout(`${host}: ${h.result}, ${applied} task(s) applied${h.error ? ` — ${h.error}` : ''}`);
    }
  return recordExitCode(merged);
}
