// `hvtune report merge`: the reports (`--json`) or run records of the shards of one run, merged
// into one — every host once, the exit code by the same rules as a single run. Pure.

import { HvtuneError } from '../errors.js';
import type { RunReport } from '../events.js';
import type { RunRecord } from '../records.js';
import { emptyReport, summarize } from './report.js';

/** Merge the `--json` reports of disjoint shards: a host in two of them is an error. */
export function mergeReports(reports: { file: string; report: RunReport }[]): RunReport {
  if (reports.length === 0) throw new HvtuneError('report merge: no report to merge');
  const checks = new Set(reports.map((r) => r.report.check));
  if (checks.size > 1) throw new HvtuneError('report merge: some reports are of check mode and some of apply: they are not one run');
  const owner = new Map<string, string>();
  const merged: RunReport = {
    check: reports[0].report.check,
    recap: {},
    changes: [],
    pending: [],
    failures: [],
    warnings: [],
    crossChecks: [],
    roundTrips: {},
    stopped: null,
    untouched: [],
    durationMs: 0,
    summary: emptyReport(reports[0].report.check).summary,
  };
  const stops: string[] = [];
  for (const { file, report } of reports) {
    for (const [host, recap] of Object.entries(report.recap)) {
      const other = owner.get(host);
      if (other) throw new HvtuneError(`report merge: ${host} is in ${other} and in ${file}: shards must be disjoint`);
      owner.set(host, file);
      merged.recap[host] = recap;
    }
    merged.changes.push(...report.changes);
    merged.pending.push(...report.pending);
    merged.failures.push(...report.failures);
    merged.crossChecks.push(...(report.crossChecks ?? []));
    for (const w of report.warnings) if (!merged.warnings.includes(w)) merged.warnings.push(w);
    Object.assign(merged.roundTrips, report.roundTrips);
    if (report.stopped) stops.push(`${file}: ${report.stopped}`);
    merged.untouched.push(...report.untouched);
    // the shards ran side by side: the run took as long as the longest
    merged.durationMs = Math.max(merged.durationMs, report.durationMs);
  }
  merged.stopped = stops.length ? stops.join('; ') : null;
  // host order: by name, the same whatever order the files were given in
  merged.recap = Object.fromEntries(Object.entries(merged.recap).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })));
  // the summary of the whole run, from the merged counts
  merged.summary = summarize(merged);
  return merged;
}

/** Merge the run records of disjoint shards of one run (the same inputs): `rollback` takes the result. */
export function mergeRecords(records: { file: string; record: RunRecord }[], id: string): RunRecord {
  if (records.length === 0) throw new HvtuneError('report merge: no record to merge');
  const [first] = records;
  const same = (r: RunRecord) =>
    r.command === first.record.command &&
    r.inputs.playbook?.sha256 === first.record.inputs.playbook?.sha256 &&
    r.inputs.inventory.sha256 === first.record.inputs.inventory.sha256 &&
    r.plan === first.record.plan;
  const owner = new Map<string, string>();
  const merged: RunRecord = { ...first.record, id, hosts: {} };
  delete merged.inProgress;
  delete merged.interrupted;
  for (const { file, record } of records) {
    if (!same(record)) throw new HvtuneError(`report merge: ${file} is a record of other inputs than ${first.file}: not shards of one run`);
    for (const [host, h] of Object.entries(record.hosts)) {
      const other = owner.get(host);
      if (other) throw new HvtuneError(`report merge: ${host} is in ${other} and in ${file}: shards must be disjoint`);
      owner.set(host, file);
      merged.hosts[host] = h;
    }
    if (record.startedAt < merged.startedAt) merged.startedAt = record.startedAt;
    if (record.finishedAt > merged.finishedAt) merged.finishedAt = record.finishedAt;
    if (record.inProgress) merged.inProgress = true;
    if (record.interrupted) merged.interrupted ??= record.interrupted;
  }
  merged.hosts = Object.fromEntries(Object.entries(merged.hosts).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })));
  return merged;
}

/** A merged record's exit code: 1 when a host failed, was unreachable or refused, else 0. */
export function recordExitCode(record: RunRecord): 0 | 1 {
  return Object.values(record.hosts).some((h) => h.result !== 'ok') || record.interrupted ? 1 : 0;
}
