// The run report is a fold over the event stream: every command and renderer sees the same events,
// and the report holds exactly what they told.

import type { ChangeRecord, HostRecap, PendingRecord, RunEvent, RunReport, RunSummary } from '../events.js';

export function emptyReport(check: boolean): RunReport {
  return {
    check,
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
    summary: summarize({ check, recap: {}, failures: [], changes: [] }),
  };
}

/** The closing counts of a run: changes, hosts, pending reboots and restarts, failures. */
export function summarize(report: Pick<RunReport, 'check' | 'recap' | 'failures' | 'changes'>): RunSummary {
  const hosts = Object.values(report.recap);
  const pendingOther: RunSummary['pendingOther'] = {};
  for (const h of hosts) for (const p of h.pending) if (p.effect !== 'reboot') pendingOther[p.effect] = (pendingOther[p.effect] ?? 0) + 1;
  return {
    check: report.check,
    hosts: hosts.length,
    changes: report.changes.length,
    changedHosts: hosts.filter((h) => h.changed > 0).length,
    pendingReboots: hosts.filter((h) => h.pending.some((p) => p.effect === 'reboot')).length,
    pendingOther,
    failedHosts: hosts.filter((h) => h.failed > 0 && !h.unreachable).length,
    failedTasks: report.failures.filter((f) => f.task !== null).length,
    unreachable: hosts.filter((h) => h.unreachable).length,
  };
}

const recapOf = (report: RunReport, host: string): HostRecap =>
  (report.recap[host] ??= { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: false, pending: [] });

/** Add one event to the report (in place: the report is built as the run goes). */
export function foldReport(report: RunReport, e: RunEvent): RunReport {
  switch (e.type) {
    case 'host-start': {
      const recap = recapOf(report, e.host);
      if (e.batch !== undefined) recap.batch = e.batch;
      break;
    }
    case 'run-stopped':
      report.stopped = e.reason;
      for (const h of e.untouched) if (!report.untouched.includes(h)) report.untouched.push(h);
      break;
    case 'task-done': {
      const recap = recapOf(report, e.host);
      if (e.status === 'failed') {
        recap.failed++;
        report.failures.push({ host: e.host, task: e.task, message: e.error ?? 'failed' });
        break;
      }
      if (e.status === 'skipped') {
        recap.skipped++;
        break;
      }
      recap.ok++;
      if (e.status === 'changed') recap.changed++;
      report.changes.push(...e.changes);
      report.pending.push(...e.pending);
      for (const p of e.pending) {
        if (!recap.pending.some((q) => q.target === p.target && q.effect === p.effect)) {
          recap.pending.push({ effect: p.effect, target: p.target, summary: p.summary });
        }
      }
      report.warnings.push(...e.warnings.map((w) => `${e.host}: ${e.task}: ${w}`));
      break;
    }
    case 'pending-cleared': {
      const cleared = (p: { effect: string }) => e.effects.includes(p.effect as never);
      const recap = recapOf(report, e.host);
      recap.pending = recap.pending.filter((p) => !cleared(p));
      report.pending = report.pending.filter((p) => p.host !== e.host || !cleared(p));
      break;
    }
    case 'pending-retracted': {
      const i = report.pending.findIndex((p) => p.host === e.host && p.task === e.task && p.effect === e.effect && p.target === e.target);
      if (i !== -1) report.pending.splice(i, 1);
      // Another task may still leave the same target pending: the recap keeps what remains.
      const recap = recapOf(report, e.host);
      const still = (q: { effect: string; target: string }) =>
        report.pending.some((p) => p.host === e.host && p.effect === q.effect && p.target === q.target);
      recap.pending = recap.pending.filter(still);
      break;
    }
    case 'host-unreachable':
      recapOf(report, e.host).unreachable = true;
      report.failures.push({ host: e.host, task: null, message: e.error });
      break;
    case 'host-failed':
      recapOf(report, e.host).failed++;
      report.failures.push({ host: e.host, task: null, message: e.error });
      break;
    case 'host-done':
      if (e.roundTrips !== undefined) report.roundTrips[e.host] = e.roundTrips;
      break;
    case 'warning':
      report.warnings.push(e.message);
      break;
    case 'cross-check': {
      const { type: _type, ...record } = e;
      report.crossChecks.push(record);
      if (e.severity === 'warning') report.warnings.push(`${e.host}: ${e.task}: [${e.rule}] ${e.message}`);
      break;
    }
  }
  return report;
}

/**
 * The report with its hosts in `order` (the inventory's) wherever it lists them: the recap, round
 * trips, changes, pending items and failures otherwise follow the order hosts finished in, which
 * differs between runs. Each host's own items keep their order.
 */
export function inHostOrder(report: RunReport, order: readonly string[]): RunReport {
  const rank = new Map(order.map((h, i) => [h, i]));
  const at = (h: string) => rank.get(h) ?? order.length;
  const byHost = <T>(entries: [string, T][]) => Object.fromEntries([...entries].sort((a, b) => at(a[0]) - at(b[0])));
  const sorted = <T extends { host: string }>(list: T[]) => [...list].sort((a, b) => at(a.host) - at(b.host));
  report.recap = byHost(Object.entries(report.recap));
  report.roundTrips = byHost(Object.entries(report.roundTrips));
  report.changes = sorted(report.changes);
  report.pending = sorted(report.pending);
  report.failures = sorted(report.failures);
  return report;
}

/** A copy of `text` that shares no memory with the larger string it may have been cut from. */
function own<T extends string | null>(text: T): T {
  return (text === null ? null : Buffer.from(text, 'utf8').toString('utf8')) as T;
}

/**
 * What the report keeps of a host once it is done, as little as it needs: each change's diff
 * rendered (or dropped) so the files' contents behind it are let go, and every string copied out
 * of the read output it was cut from (a value cut from a host's batch keeps the whole batch alive).
 * A fleet run then holds its finished hosts' summaries, not their files.
 */
export function hostSettler(report: RunReport, diffs: 'keep' | 'drop'): (e: RunEvent) => void {
  const unsettled = new Map<string, { changes: ChangeRecord[]; pending: PendingRecord[] }>();
  return (e) => {
    if (e.type === 'task-done') {
      const host = unsettled.get(e.host) ?? unsettled.set(e.host, { changes: [], pending: [] }).get(e.host)!;
      host.changes.push(...e.changes);
      host.pending.push(...e.pending);
    } else if (e.type === 'host-done') {
      const host = unsettled.get(e.host);
      unsettled.delete(e.host);
      for (const c of host?.changes ?? []) {
        const diff = diffs === 'keep' ? own(c.diff) : null;
        Object.defineProperty(c, 'diff', { value: diff, enumerable: true, writable: true, configurable: true });
        Object.assign(c, { summary: own(c.summary), target: own(c.target), before: own(c.before), after: own(c.after) });
      }
      for (const p of [...(host?.pending ?? []), ...(report.recap[e.host]?.pending ?? [])]) {
        Object.assign(p, { summary: own(p.summary), target: own(p.target) });
      }
    }
  };
}
