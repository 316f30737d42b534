// A saved plan told as the events check mode told when it was made (`hvtune show PLAN.json`), so
// it prints through the same renderers: the same lines, diffs, recap and summary.

import type { Change } from '../module.js';
import type { ChangeRecord, PendingRecord, RunEvent, RunReport } from '../events.js';
import type { SavedPlan } from '../planfile.js';
import { unifiedDiff } from './diff.js';
import { RESTART_EFFECTS } from './host-run.js';
import { emptyReport, foldReport, summarize } from './report.js';

/** A saved change as check mode reported it; a sealed one (secret task) says so and shows no content. */
function changeRecord(c: Change, host: string, task: string, module: string): ChangeRecord {
  const sealed = c.digest !== undefined;
  const diff = !c.diff
    ? null
    : sealed
      ? `--- a${c.diff.path}\n+++ b${c.diff.path}\n# diff not shown: secret task (sealed in the plan)\n`
      : unifiedDiff(c.diff.path, c.diff.before, c.diff.after);
  return {
    host,
    task,
    module,
    summary: sealed ? `${c.summary} (sealed: secret task)` : c.summary,
    target: c.target,
    effect: c.effect,
    before: c.before ?? null,
    after: c.after ?? null,
    diff,
    warnings: c.warnings ?? [],
  };
}

/** The events of the check run that made `plan`, and the report they fold into. */
export function savedPlanEvents(plan: Pick<SavedPlan, 'hosts' | 'plays'>): { events: RunEvent[]; report: RunReport } {
  const events: RunEvent[] = [];
  const report = emptyReport(true);
  const send = (e: RunEvent) => {
    foldReport(report, e);
    events.push(e);
  };
  const plays = [...new Set(Object.values(plan.hosts).flatMap((h) => h.tasks.map((t) => t.play)))].sort((a, b) => a - b);
  for (const index of plays) {
    const name = plan.plays?.[index] ?? `play ${index + 1}`;
    const hosts = Object.keys(plan.hosts).filter((h) => plan.hosts[h].tasks.some((t) => t.play === index));
    send({ type: 'play-start', play: name, index, hosts, check: true });
    for (const host of hosts) {
      send({ type: 'host-start', host });
      let id = 0;
      for (const t of plan.hosts[host].tasks.filter((x) => x.play === index)) {
        id++;
        send({ type: 'task-start', host, id, task: t.task, module: t.module });
        const pending: PendingRecord[] = [
          ...t.pending,
          ...t.changes
            .filter((c) => RESTART_EFFECTS.has(c.effect))
            .map((c) => ({ effect: c.effect as PendingRecord['effect'], target: c.target, summary: c.summary })),
        ].map((p) => ({ ...p, host, task: t.task, module: t.module }));
        send({
          type: 'task-done',
          host,
          id,
          task: t.task,
          module: t.module,
          status: t.changes.length ? 'changed' : 'ok',
          changes: t.changes.map((c) => changeRecord(c, host, t.task, t.module)),
          pending,
          warnings: [],
          handler: t.handler,
        });
      }
      send({ type: 'host-done', host });
    }
    send({ type: 'play-end', play: name });
  }
  report.summary = summarize(report);
  send({ type: 'run-end', report });
  return { events, report };
}
