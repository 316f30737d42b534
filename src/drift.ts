// Drift: do the hosts still match the playbook, or a baseline taken by `hvtune snapshot`? Per host
// and setting: drifted live, drifted persisted, or a pending reboot/reload/restart.

import type { Change, Module, Pending, SettingState } from './module.js';
import type { Inventory } from './inventory.js';
import { taskSnapshot, type Baseline, type BaselineTask } from './baseline.js';
import { errorMessage } from './engine/errors.js';
import { forEachLimited } from './engine/limit.js';
import { planTasks } from './engine/plan.js';
import type { HostConnector } from './engine/saved-plan.js';

export type DriftKind = 'live' | 'persisted' | 'pending' | 'state';

export interface DriftItem {
  task: string;
  module: string;
  setting: string;
  kind: DriftKind;
  /** what the playbook or baseline says; null = absent / not set */
  expected: string | null;
  actual: string | null;
  /** restart-type effect of a pending state or a change */
  effect?: string;
  detail?: string;
}

export interface HostDrift {
  status: 'clean' | 'drift' | 'error';
  items: DriftItem[];
  error?: string;
}

const fileWord = (content: string | null) =>
  content === null ? 'absent' : `${content.split('\n').length - (content.endsWith('\n') ? 1 : 0)} line(s)`;

/**
 * A check run's task, classified. With the module's settings (snapshot hook): a setting whose live
 * value differs from the desired one drifted live, whose persisted value differs drifted persisted.
 * Changes no setting explains are reported as they are; pending states as pending.
 */
export function driftFromPlan(
  where: { task: string; module: string },
  plan: { changes: Change[]; pending?: Pending[] },
  settings?: Record<string, SettingState>,
): DriftItem[] {
  const items: DriftItem[] = [];
  const named = new Set<string>();
  let persistedDrift = false;
  for (const [name, s] of Object.entries(settings ?? {})) {
    const setting = `${where.module}:${name}`;
    if (s.live !== s.desired) {
      items.push({ ...where, setting, kind: 'live', expected: s.desired, actual: s.live });
      named.add(setting);
    }
    if (s.persisted !== s.desired) {
      items.push({ ...where, setting, kind: 'persisted', expected: s.desired, actual: s.persisted });
      persistedDrift = true;
    }
  }
  for (const c of plan.changes) {
    if (named.has(c.target) || (c.diff && persistedDrift)) continue;
    const restart = c.effect === 'live' || c.effect === 'persistent' ? {} : { effect: c.effect };
    if (c.diff)
      items.push({
        ...where,
        setting: c.target,
        kind: 'persisted',
        expected: fileWord(c.diff.after),
        actual: fileWord(c.diff.before),
        detail: c.summary,
        ...restart,
      });
    else
      items.push({
        ...where,
        setting: c.target,
        kind: c.effect === 'live' ? 'live' : 'persisted',
        expected: c.after ?? null,
        actual: c.before ?? null,
        ...restart,
      });
  }
  for (const p of plan.pending ?? []) {
    items.push({ ...where, setting: p.target, kind: 'pending', expected: null, actual: null, effect: p.effect, detail: p.summary });
  }
  return items;
}

/** A task now against its baseline: live and persisted values must be what was recorded. */
export function driftFromBaseline(base: BaselineTask, now: Pick<BaselineTask, 'settings' | 'state'>): DriftItem[] {
  const where = { task: base.task, module: base.module };
  const items: DriftItem[] = [];
  // Without a snapshot hook the settings are the plan's changes: the hash of the Observed covers them.
  if (base.state !== undefined) {
    if (now.state !== base.state) {
      items.push({
        ...where,
        setting: `${base.module}:${base.task}`,
        kind: 'state',
        expected: base.state,
        actual: now.state ?? null,
        detail: `module ${base.module} observes something else now`,
      });
    }
    return items;
  }
  const names = [...new Set([...Object.keys(base.settings), ...Object.keys(now.settings)])].sort();
  for (const name of names) {
    const setting = `${base.module}:${name}`;
    const was = base.settings[name];
    const is = now.settings[name];
    if (!was || !is) {
      items.push({
        ...where,
        setting,
        kind: 'state',
        expected: was ? 'in the baseline' : null,
        actual: is ? 'managed now' : null,
        detail: was ? 'no longer reported' : 'not in the baseline',
      });
      continue;
    }
    if (is.live !== was.live) items.push({ ...where, setting, kind: 'live', expected: was.live, actual: is.live });
    if (is.persisted !== was.persisted) items.push({ ...where, setting, kind: 'persisted', expected: was.persisted, actual: is.persisted });
  }
  return items;
}

export function hostStatus(items: DriftItem[]): HostDrift {
  return { status: items.length ? 'drift' : 'clean', items };
}

/** Each baseline's host read again now, its tasks planned with their recorded args, and compared. */
export async function driftAgainstBaselines(
  baselines: Baseline[],
  opts: { inventory: Inventory; modules: ReadonlyMap<string, Module>; connect: HostConnector; forks: number },
): Promise<Record<string, HostDrift>> {
  const { inventory, modules } = opts;
  const hosts: Record<string, HostDrift> = {};
  await forEachLimited(baselines, opts.forks, async (b) => {
    const inv = inventory.hosts.get(b.host);
    const unknown = b.tasks.find((t) => !modules.has(t.module));
    if (!inv) return void (hosts[b.host] = { status: 'error', items: [], error: `not in the inventory ${inventory.file}` });
    if (unknown)
      return void (hosts[b.host] = { status: 'error', items: [], error: `module ${unknown.module} is not known to this hvtune` });
    try {
      const host = await opts.connect(inv);
      try {
        const tasks = b.tasks.map((t) => ({ module: modules.get(t.module)!, args: t.args }));
        const fresh = await planTasks(host, host.facts, tasks, { overlay: false });
        const items: DriftItem[] = [];
        const errors: string[] = [];
        b.tasks.forEach((t, i) => {
          const f = fresh[i];
          if ('error' in f) errors.push(`${t.task}: ${f.error}`);
          else items.push(...driftFromBaseline(t, taskSnapshot(tasks[i].module, t.args, f.observed, f.result.changes)));
        });
        hosts[b.host] = errors.length ? { status: 'error', items, error: errors.join('; ') } : hostStatus(items);
      } finally {
        await host.close().catch(() => undefined);
      }
    } catch (err) {
      hosts[b.host] = { status: 'error', items: [], error: errorMessage(err) };
    }
  });
  return hosts;
}
