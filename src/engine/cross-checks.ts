// Cross-checks: after every task of a host is planned, the rules that modules carry
// (Module.crossChecks) judge the host's combined desired state — every planned task's arguments,
// what it read and what it changes — with the facts. A problem is a warning, or an error where the
// result cannot work; an error stops the host before any change.

import type { CrossCheck, CrossCheckInput, CrossProblem, Module } from '../module.js';
import type { SourcePosition } from '../errors.js';

/** One problem as reported: in events, the run report and `validate`. */
export interface CrossCheckRecord {
  host: string;
  rule: string;
  severity: 'error' | 'warning';
  message: string;
  task: string;
  pos?: SourcePosition;
}

/** Every rule of these modules, each once (a rule may concern several modules). */
export function crossChecksOf(modules: Iterable<Pick<Module, 'crossChecks'>>): CrossCheck[] {
  const byId = new Map<string, CrossCheck>();
  for (const m of modules) for (const c of m.crossChecks ?? []) if (!byId.has(c.id)) byId.set(c.id, c);
  return [...byId.values()];
}

export interface CrossCheckRun {
  problems: CrossCheckRecord[];
  /** what a rule could not judge, in words */
  unknown: { rule: string; what: string }[];
  /** rules not run: offline, they need what tasks read on a host */
  skipped: CrossCheck[];
}

/** Run the rules over one host's planned tasks; offline, the rules that need reads are skipped. */
export function runCrossChecks(checks: readonly CrossCheck[], input: CrossCheckInput, opts: { offline?: boolean } = {}): CrossCheckRun {
  const out: CrossCheckRun = { problems: [], unknown: [], skipped: [] };
  for (const check of checks) {
    if (opts.offline && check.needsObserved) {
      out.skipped.push(check);
      continue;
    }
    let problems: CrossProblem[];
    let unknown: string[] = [];
    try {
      const result = check.check(input);
      problems = result.problems;
      unknown = result.unknown ?? [];
    } catch (err) {
      // a rule that trips over an odd state must not hide the plan: say so and go on
      const last = input.tasks[input.tasks.length - 1];
      problems = last ? [{ severity: 'warning', at: last, message: `the rule could not run: ${(err as Error).message}` }] : [];
    }
    for (const p of problems) {
      out.problems.push({
        host: input.host,
        rule: check.id,
        severity: p.severity,
        message: p.message,
        task: p.at.task,
        ...(p.at.pos ? { pos: p.at.pos } : {}),
      });
    }
    for (const what of new Set(unknown)) out.unknown.push({ rule: check.id, what });
  }
  return out;
}

/** "playbooks/x.yml:12:7: task "name": error [rule]: message" */
export function crossCheckLine(p: CrossCheckRecord): string {
  const where = p.pos ? `${p.pos.file}:${p.pos.line}:${p.pos.column}: ` : '';
  return `${where}${p.host}: ${p.severity} [${p.rule}] (task "${p.task}"): ${p.message}`;
}
