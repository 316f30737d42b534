// Text of the commands that work on saved state: apply of a saved plan, rollback, drift, snapshot.

import type { Change } from '../module.js';
import type { ChangeRecord } from '../events.js';
import type { DriftItem, HostDrift } from '../drift.js';
import type { ApplyResult, HostOutcome } from '../engine/saved-plan.js';
import type { RollbackPlan } from '../engine/rollback.js';
import type { PlanHost } from '../planfile.js';
import { unifiedDiff } from '../engine/diff.js';
import { changeLine, colorDiff, type Style } from './format.js';

/** A saved change as the report's change record (for changeLine). */
function asRecord(c: Change, host: string, task: string, module: string): ChangeRecord {
  return { ...c, host, task, module, before: c.before ?? null, after: c.after ?? null, diff: null, warnings: [] };
}

export interface Lines {
  out: string[];
  err: string[];
}

export function applyLines(
  result: Omit<ApplyResult, 'record'>,
  plan: { hosts: Record<string, PlanHost> },
  recordPath: string,
  s: Style,
): Lines {
  const out: string[] = [];
  const err = result.warnings.map((w) => s.yellow(`warning: ${w}`));
  for (const [name, h] of Object.entries(result.hosts)) {
    if (h.status === 'nothing') out.push(s.green(`${name} | nothing to do`));
    else if (h.status === 'skipped') out.push(s.dim(`${name} | skipped: not in --limit (untouched)`));
    else if (h.status === 'applied') {
      out.push(s.yellow(`${name} | applied ${h.changes} change(s)`));
      for (const t of plan.hosts[name].tasks)
        for (const c of t.changes) out.push(`    ${changeLine(asRecord(c, name, t.task, t.module), s)}`);
    } else if (h.status === 'stale') {
      out.push(s.red(`${name} | REFUSED: ${h.error}:`));
      for (const p of h.problems) out.push(s.red(`    ${p}`));
    } else if (h.status === 'interrupted') out.push(s.red(`${name} | INTERRUPTED: ${h.error}`));
    else out.push(s.red(`${name} | ${h.status === 'unreachable' ? 'UNREACHABLE' : 'FAILED'}: ${h.error}`));
  }
  const counts = (st: HostOutcome) => Object.values(result.hosts).filter((h) => h.status === st).length;
  out.push('');
  out.push(
    `applied on ${counts('applied')} host(s), nothing to do on ${counts('nothing')}, refused ${counts('stale')} (stale), failed ${counts('failed') + counts('unreachable')}${counts('skipped') ? `, skipped ${counts('skipped')} (--limit)` : ''}`,
  );
  if (counts('stale'))
    out.push('A refused host was changed after the plan was made: run hvtune plan again, review, and apply the new plan.');
  out.push(s.dim(`run record: ${recordPath}`));
  return { out, err };
}

/** The rollback plan's changes (with diffs when asked), then notes and refusals. */
export function rollbackLines(plan: RollbackPlan, opts: { diff: boolean }, s: Style): Lines {
  const out: string[] = [];
  const err: string[] = [];
  for (const [name, h] of Object.entries(plan.hosts)) {
    for (const t of h.tasks) {
      for (const c of t.changes) {
        out.push(`${name} | ${changeLine(asRecord(c, name, t.task, t.module), s)}`);
        if (opts.diff && c.diff)
          out.push(
            colorDiff(unifiedDiff(c.diff.path, c.diff.before, c.diff.after), s)
              .replace(/^/gm, '    ')
              .trimEnd(),
          );
      }
    }
  }
  for (const n of plan.notes) err.push(s.yellow(`note: ${n}`));
  for (const [name, list] of Object.entries(plan.errors)) {
    err.push(s.red(`${name}: cannot roll back:`));
    for (const e of list) err.push(s.red(`    ${e}`));
  }
  return { out, err };
}

const show = (v: string | null) => (v === null ? '(absent)' : JSON.stringify(v));

export function driftLine(host: string, i: DriftItem): string {
  if (i.kind === 'pending') return `${host}  ${i.setting}  pending ${i.effect}: ${i.detail}`;
  const what = i.kind === 'state' ? 'drifted' : `drifted ${i.kind}`;
  const note = i.effect ? ` [needs ${i.effect}]` : '';
  return `${host}  ${i.setting}  ${what}: expected ${show(i.expected)}, actual ${show(i.actual)}${i.detail ? ` (${i.detail})` : ''}${note}`;
}

export function driftLines(
  hosts: Record<string, HostDrift>,
  source: { baseline: boolean; path: string; code: number },
  s: Style,
): string[] {
  const out: string[] = [];
  for (const [name, h] of Object.entries(hosts)) {
    if (h.status === 'clean') out.push(s.green(`${name}  clean`));
    for (const i of h.items) out.push(s.yellow(driftLine(name, i)));
    if (h.status === 'error') out.push(s.red(`${name}  ERROR: ${h.error}`));
  }
  const list = Object.values(hosts);
  const drifted = list.filter((h) => h.status === 'drift').length;
  out.push(
    `\n${source.baseline ? 'baseline' : 'playbook'} ${source.path}: ${drifted} of ${list.length} host(s) drifted${source.code === 1 ? ', some could not be checked' : ''}`,
  );
  return out;
}

/** One line per host whose baseline was written (or found unchanged). */
export function snapshotLine(host: string, settings: number, path: string, was: 'new' | 'same' | 'changed'): string {
  return `${host}: ${settings} setting(s) ${was === 'new' ? 'saved to' : was === 'same' ? 'unchanged in' : 'updated in'} ${path}`;
}
