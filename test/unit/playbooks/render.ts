// Render a playbook's tasks for one host the way the runner does before it reads anything:
// variables (profile defaults < play vars < extra vars), facts, `when`, `loop`, templates, then the module's schema
// on the rendered arguments. Offline: what a play would ask of a machine, from its recorded facts.

import { fileURLToPath } from 'node:url';
import { loadModules } from '../../../modules/index.js';
import type { Facts } from '../../../src/facts.js';
import { loadPlaybook, validateArgs, type Playbook } from '../../../src/playbook.js';
import { evalCondition, renderLoop, renderValue } from '../../../src/template.js';
import { InputError } from '../../../src/errors.js';

export const playbookPath = (name: string) => fileURLToPath(new URL(`../../../playbooks/${name}`, import.meta.url));

export async function loadProjectPlaybook(name: string): Promise<Playbook> {
  return loadPlaybook(playbookPath(name), await loadModules());
}

export interface RenderedTask {
  name: string;
  module: string;
  /** Rendered arguments, one entry per loop item; empty when `when` is false for every item. */
  args: unknown[];
}

export function renderPlay(playbook: Playbook, playIndex: number, facts: Facts, extraVars: Record<string, unknown> = {}): RenderedTask[] {
  const play = playbook.plays[playIndex];
  // play vars and the profile defaults no -e overrides may be templates over facts and each other,
  // rendered once per host as the runner does
  const defaults = Object.fromEntries(
    Object.entries(play.defaults ?? {}).filter(([k]) => !Object.hasOwn(play.vars, k) && !Object.hasOwn(extraVars, k)),
  );
  const layered = { ...defaults, ...play.vars };
  const raw = { ...layered, ...extraVars };
  const playWhere = { task: `play "${play.name}" vars`, path: 'vars', pos: play.pos };
  const vars = { ...(renderValue(layered, { ...raw, facts, inventory_hostname: facts.hostname }, playWhere) as object), ...extraVars };
  return play.tasks.map((task) => {
    const where = { task: task.name, path: task.path, pos: task.pos };
    const base = { ...vars, facts, inventory_hostname: facts.hostname };
    const items = task.loop === undefined ? [undefined] : renderLoop(task.loop, base, where);
    const args: unknown[] = [];
    for (const item of items) {
      const ctx = item === undefined ? base : { ...base, item };
      if (task.when !== undefined && !evalCondition(task.when, ctx, where)) continue;
      const rendered = renderValue(task.args, ctx, where);
      const problems = validateArgs(task, rendered);
      if (problems.length) throw new InputError(problems);
      args.push(rendered);
    }
    return { name: task.name, module: task.module, args };
  });
}

/** The one rendered argument set of the task named `name` (throws if skipped or looped). */
export function taskArgs(tasks: RenderedTask[], name: string): Record<string, any> {
  const task = tasks.find((t) => t.name === name);
  if (!task) throw new Error(`no task named ${JSON.stringify(name)} (tasks: ${tasks.map((t) => t.name).join(', ')})`);
  if (task.args.length !== 1) throw new Error(`task ${JSON.stringify(name)} rendered ${task.args.length} times`);
  return task.args[0] as Record<string, any>;
}
