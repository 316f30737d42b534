// A play's tasks for one host as the runner would render them, from saved facts and without a
// connection: variables (inventory < play vars < -e), `loop`, `when`, templates and the module's
// schema. What `hvtune validate --facts` judges with the cross-checks, which need no host.

import type { CrossTask, Module } from '../module.js';
import type { Facts } from '../facts.js';
import type { InventoryHost } from '../inventory.js';
import { liveDefaults } from './play-defaults.js';
import { hasTemplate, validateArgs, type Play } from '../playbook.js';
import { evalCondition, renderLoop, renderValue } from '../template.js';
import { errorMessage } from './errors.js';
import { tasksUsingRegistered } from './facts-need.js';

export interface OfflineTasks {
  tasks: CrossTask[];
  /** tasks that could not be rendered offline, and why */
  left: string[];
}

export function offlineTasks(
  play: Play,
  host: InventoryHost,
  facts: Facts,
  extraVars: Record<string, unknown>,
  modules: ReadonlyMap<string, Module>,
): OfflineTasks {
  const out: OfflineTasks = { tasks: [], left: [] };
  const base = { inventory_hostname: host.name, group_names: host.groups, facts };
  // as the runner does: the profile defaults the host keeps, then play vars, rendered once
  const layered = { ...liveDefaults(play, host.vars, extraVars), ...play.vars };
  let vars: Record<string, unknown> = { ...layered, ...host.vars, ...play.vars, ...extraVars };
  if (hasTemplate(layered)) {
    try {
      const where = { task: `play "${play.name}" vars`, path: 'vars', pos: play.pos };
      const rendered = renderValue(layered, { ...vars, ...base }, where) as Record<string, unknown>;
      vars = { ...host.vars, ...rendered, ...extraVars };
    } catch (err) {
      out.left.push(`play "${play.name}" vars: ${errorMessage(err)}`);
      return out;
    }
  }
  const deferred = tasksUsingRegistered(play);
  for (const task of play.tasks) {
    if (!modules.has(task.module)) continue;
    if (deferred.has(task)) {
      out.left.push(`task "${task.name}": it reads a registered result, known only once the play runs`);
      continue;
    }
    const where = { task: task.name, path: task.path, pos: task.pos };
    try {
      const ctx = { ...vars, ...base };
      const items = task.loop === undefined ? [undefined] : renderLoop(task.loop, ctx, where);
      for (const item of items) {
        const itemCtx = item === undefined ? ctx : { ...ctx, item };
        if (task.when !== undefined && !evalCondition(task.when, itemCtx, where)) continue;
        const args = renderValue(task.args, itemCtx, where);
        const problems = validateArgs(task, args);
        if (problems.length) throw new Error(problems.map((p) => p.message).join('; '));
        const label = item === undefined ? task.name : `${task.name} (item=${typeof item === 'string' ? item : JSON.stringify(item)})`;
        out.tasks.push({ module: task.module, args, changes: [], task: label, pos: task.pos });
      }
    } catch (err) {
      out.left.push(`task "${task.name}": ${errorMessage(err)}`);
    }
  }
  return out;
}
