// Text shared by the plain and terminal renderers.

import type { ChangeRecord, HostRecap, PendingRecord, RunEvent, RunReport, RunSummary } from '../events.js';

export interface Style {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const esc = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
export const colors: Style = {
  green: esc('32'),
  yellow: esc('33'),
  red: esc('31'),
  cyan: esc('36'),
  dim: esc('2'),
  bold: esc('1'),
};
const id = (s: string) => s;
export const noColors: Style = { green: id, yellow: id, red: id, cyan: id, dim: id, bold: id };

const EFFECT_NOTE: Record<string, string> = {
  live: '',
  persistent: '',
  reboot: 'needs a reboot',
  'module-reload': 'needs a module reload',
  'vm-restart': 'needs a VM restart',
  'service-restart': 'restarts a service',
};

/** One change as a line, `before → after` for live values. */
export function changeLine(c: ChangeRecord, s: Style): string {
  const note = EFFECT_NOTE[c.effect] ? ` ${s.yellow(`[${EFFECT_NOTE[c.effect]}]`)}` : '';
  const values = c.before !== null || c.after !== null ? `: ${show(c.before)} → ${show(c.after)}` : '';
  return `${c.summary}${values}${note}`;
}

function show(v: string | null): string {
  return v === null ? '(absent)' : JSON.stringify(v);
}

export function colorDiff(diff: string, s: Style): string {
  return diff
    .split('\n')
    .map((l) =>
      l.startsWith('+++') || l.startsWith('---')
        ? s.bold(l)
        : l.startsWith('+')
          ? s.green(l)
          : l.startsWith('-')
            ? s.red(l)
            : l.startsWith('@@')
              ? s.cyan(l)
              : l,
    )
    .join('\n');
}

/** A finished task's warnings: the plan's own, then each change's. */
export function taskWarnings(e: Extract<RunEvent, { type: 'task-done' }>): string[] {
  return [...e.warnings, ...e.changes.flatMap((c) => c.warnings)];
}

/** A cross-check problem as a line: where, the rule and its message. */
export function crossCheckText(e: {
  severity: string;
  rule: string;
  task: string;
  message: string;
  pos?: { file: string; line: number; column: number };
}): string {
  const where = e.pos ? ` at ${e.pos.file}:${e.pos.line}:${e.pos.column}` : '';
  return `cross-check ${e.severity} [${e.rule}] (${e.task}${where}): ${e.message}`;
}

export function pendingLine(p: PendingRecord | { effect: string; target: string; summary: string }): string {
  return `${p.effect}: ${p.summary} (${p.target})`;
}

/** `serial` as a person reads it: "in 3 batches: hv1 hv2 | hv3 hv4 | hv5 hv6". */
export function batchesLine(batches: string[][]): string {
  return `in ${batches.length} batch(es): ${batches.map((b) => b.join(' ')).join(' | ')}`;
}

export function recapLines(report: RunReport, s: Style): string[] {
  const names = Object.keys(report.recap);
  const width = Math.max(4, ...names.map((n) => n.length));
  const lines = [s.bold(report.check ? 'RECAP (check mode: nothing was changed)' : 'RECAP')];
  for (const name of names) {
    const r: HostRecap = report.recap[name];
    const color = r.failed || r.unreachable ? s.red : r.changed ? s.yellow : s.green;
    const counts =
      `ok=${r.ok} ${(r.changed ? s.yellow : id)(`changed=${r.changed}`)} ` +
      `${(r.failed ? s.red : id)(`failed=${r.failed}`)} skipped=${r.skipped} ` +
      `${(r.unreachable ? s.red : id)(`unreachable=${r.unreachable ? 1 : 0}`)}`;
    lines.push(`${color(name.padEnd(width))}  ${counts}${r.batch !== undefined ? s.dim(`  batch ${r.batch}`) : ''}`);
    for (const p of r.pending) lines.push(`${' '.repeat(width)}  ${s.yellow('pending')} ${pendingLine(p)}`);
  }
  if (report.stopped) {
    lines.push(s.red(`STOPPED: ${report.stopped}`));
    if (report.untouched.length) lines.push(s.red(`never touched: ${report.untouched.join(' ')}`));
  }
  const rt = Object.entries(report.roundTrips);
  if (rt.length) lines.push(s.dim(`round trips per host: ${roundTripsText(rt)}; ${(report.durationMs / 1000).toFixed(2)} s`));
  // a report read from an older --json has no summary
  if (report.summary) lines.push(summaryLine(report.summary, s));
  return lines;
}

const PENDING_NAMES: Record<keyof RunSummary['pendingOther'], string> = {
  'module-reload': 'module reload',
  'vm-restart': 'VM restart',
  'service-restart': 'service restart',
};
const counted = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The closing line, Terraform's way: "Plan: 12 changes on 3 of 40 hosts, 3 pending reboots, 1 failed". */
export function summaryLine(sum: RunSummary, s: Style): string {
  const parts = [
    `${counted(sum.changes, 'change')} on ${sum.changedHosts} of ${counted(sum.hosts, 'host')}`,
    counted(sum.pendingReboots, 'pending reboot'),
    ...Object.entries(sum.pendingOther).map(([effect, n]) =>
      counted(n, `pending ${PENDING_NAMES[effect as keyof RunSummary['pendingOther']]}`),
    ),
    `${sum.failedHosts} failed${sum.failedTasks > sum.failedHosts ? ` (${counted(sum.failedTasks, 'task')})` : ''}`,
    ...(sum.unreachable ? [`${sum.unreachable} unreachable`] : []),
  ];
  const text = `${sum.check ? 'Plan' : 'Applied'}: ${parts.join(', ')}`;
  return s.bold(sum.failedHosts || sum.unreachable ? s.red(text) : text);
}

/** Hosts listed one by one up to this many; beyond, a summary. */
const ROUND_TRIPS_LISTED = 10;
/** Outliers named in the summary, the most round trips first. */
const OUTLIERS_NAMED = 5;

/**
 * Each host's round trips, or past ROUND_TRIPS_LISTED hosts min/median/max and the hosts above the
 * median (the ones that cost more than the rest: retries, reboots, a failing task).
 */
export function roundTripsText(perHost: [string, number][]): string {
  if (perHost.length <= ROUND_TRIPS_LISTED) return perHost.map(([h, n]) => `${h}=${n}`).join(' ');
  const counts = perHost.map(([, n]) => n).sort((a, b) => a - b);
  const mid = counts.length >> 1;
  const median = counts.length % 2 ? counts[mid] : (counts[mid - 1] + counts[mid]) / 2;
  const above = perHost.filter(([, n]) => n > median).sort((a, b) => b[1] - a[1]);
  const named = above.slice(0, OUTLIERS_NAMED).map(([h, n]) => `${h}=${n}`);
  if (above.length > OUTLIERS_NAMED) named.push(`and ${above.length - OUTLIERS_NAMED} more`);
  const summary = `${perHost.length} hosts, min ${counts[0]}, median ${median}, max ${counts[counts.length - 1]}`;
  return above.length ? `${summary}; above the median: ${named.join(', ')}` : summary;
}
