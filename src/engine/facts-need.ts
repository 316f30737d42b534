// Which facts a play needs, decided once per play from what its modules declare and what its
// templates read, before anything connects. Gathering every fact costs a host more CPU than the
// rest of a converged run, so a play that uses none of them gets the hostname and kernel release
// only, read with its first batch of reads.

import type { Module } from '../module.js';
import type { Play, Task } from '../playbook.js';
import { templateVariables } from '../template.js';
import { crossChecksOf } from './cross-checks.js';

export interface FactsNeed {
  /** none: gather_facts is off; kernel: hostname and kernel release; full: everything the facts script reads */
  level: 'none' | 'kernel' | 'full';
  /** Templates or reads use facts: they are gathered in a round trip of their own before the reads. */
  beforeReads: boolean;
}

/** Does any template of this task (args, when, loop) read `name`? */
export function taskReads(task: Task, name: string): boolean {
  return (
    templateVariables(task.args).has(name) ||
    (task.when !== undefined && templateVariables(task.when, { condition: true }).has(name)) ||
    (task.includeWhen ?? []).some((w) => templateVariables(w, { condition: true }).has(name)) ||
    (task.loop !== undefined && templateVariables(task.loop).has(name))
  );
}

export function factsNeed(play: Play, modules: ReadonlyMap<string, Module>): FactsNeed {
  if (!play.gatherFacts) return { level: 'none', beforeReads: false };
  const tasks = [...play.tasks, ...play.handlers];
  const templates =
    templateVariables(play.vars).has('facts') ||
    templateVariables(play.defaults ?? {}).has('facts') ||
    tasks.some((t) => taskReads(t, 'facts'));
  const reads = tasks.some((t) => modules.get(t.module)?.readNeedsFacts);
  const plans = tasks.some((t) => modules.get(t.module)?.needsFacts);
  // a cross-check that judges this task against facts (memory, NUMA nodes): gathered with the reads
  const checks = crossChecksOf(modules.values());
  const cross = tasks.some((t) => checks.some((c) => c.wantsFacts?.(t.module, t.args)));
  return { level: templates || reads || plans || cross ? 'full' : 'kernel', beforeReads: templates || reads };
}

/**
 * The tasks that read a result registered by another task of the play (`register: r` and
 * `when: r.changed`): they are rendered only when the tasks before them have run.
 */
export function tasksUsingRegistered(play: Play): Set<Task> {
  const registers = (tasks: Task[]) => tasks.filter((t) => t.register).map((t) => ({ task: t, name: t.register! }));
  const all = [...registers(play.tasks), ...registers(play.handlers)];
  const out = new Set<Task>();
  for (const task of [...play.tasks, ...play.handlers]) {
    if (all.some((r) => r.task !== task && taskReads(task, r.name))) out.add(task);
  }
  return out;
}
