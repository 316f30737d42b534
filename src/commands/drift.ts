// `hvtune drift (PLAYBOOK | baselines/) -i INV [--json]`: do the hosts still match the playbook, or
// a baseline taken by `hvtune snapshot`? Per host and setting: drifted live, drifted persisted, or
// a pending reboot/reload/restart. Exit 0 clean, 2 drift, 1 error (tuned-adm verify, Terraform's
// -detailed-exitcode).

import type { Change, Pending, SettingState } from '../module.js';
import { errorMessage, forEachLimited } from '../runner.js';
import { readAndPlan, type HostTask } from './apply.js';
import { checkRun, type CheckFlags, type StateCommandDeps } from './plan.js';
import { isBaselineDir, readBaselineDir, taskSnapshot, type BaselineTask } from './snapshot.js';

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

const fileWord = (content: string | null) => (content === null ? 'absent' : `${content.split('\n').length - (content.endsWith('\n') ? 1 : 0)} line(s)`);

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
    if (c.diff) items.push({ ...where, setting: c.target, kind: 'persisted', expected: fileWord(c.diff.after), actual: fileWord(c.diff.before), detail: c.summary, ...restart });
    else items.push({ ...where, setting: c.target, kind: c.effect === 'live' ? 'live' : 'persisted', expected: c.after ?? null, actual: c.before ?? null, ...restart });
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
      items.push({ ...where, setting: `${base.module}:${base.task}`, kind: 'state', expected: base.state, actual: now.state ?? null, detail: `module ${base.module} observes something else now` });
    }
    return items;
  }
  const names = [...new Set([...Object.keys(base.settings), ...Object.keys(now.settings)])].sort();
  for (const name of names) {
    const setting = `${base.module}:${name}`;
    const was = base.settings[name];
    const is = now.settings[name];
    if (!was || !is) {
      items.push({ ...where, setting, kind: 'state', expected: was ? 'in the baseline' : null, actual: is ? 'managed now' : null, detail: was ? 'no longer reported' : 'not in the baseline' });
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

async function againstPlaybook(deps: StateCommandDeps, playbook: string, o: CheckFlags): Promise<Record<string, HostDrift>> {
  const modules = await deps.loadModules();
  const hosts: Record<string, HostDrift> = {};
  const { report } = await checkRun(deps, playbook, o, (p) => {
    const module = modules.get(p.module)!;
    const h = (hosts[p.host] ??= { status: 'clean', items: [] });
    h.items.push(...driftFromPlan({ task: p.task, module: p.module }, p.result, module.snapshot?.(p.args, p.observed)));
  });
  for (const h of Object.keys(report.recap)) hosts[h] ??= { status: 'clean', items: [] };
  for (const h of Object.values(hosts)) h.status = h.items.length ? 'drift' : 'clean';
  for (const f of report.failures) {
    const h = hosts[f.host];
    Object.assign(h, { status: 'error', error: h.error ? `${h.error}; ${f.message}` : f.task ? `${f.task}: ${f.message}` : f.message });
  }
  return hosts;
}

async function againstBaselines(deps: StateCommandDeps, dir: string, o: CheckFlags): Promise<Record<string, HostDrift>> {
  const baselines = readBaselineDir(dir);
  const inventory = deps.loadInventory(o.inventory);
  const modules = await deps.loadModules();
  const connect = deps.hostConnector(inventory, o);
  const hosts: Record<string, HostDrift> = {};
  await forEachLimited(baselines, Math.max(1, Number(o.forks) || 20), async (b) => {
    const inv = inventory.hosts.get(b.host);
    const unknown = b.tasks.find((t) => !modules.has(t.module));
    if (!inv) return void (hosts[b.host] = { status: 'error', items: [], error: `not in the inventory ${inventory.file}` });
    if (unknown) return void (hosts[b.host] = { status: 'error', items: [], error: `module ${unknown.module} is not known to this hvtune` });
    try {
      const host = await connect(inv);
      try {
        const tasks: HostTask[] = b.tasks.map((t) => ({ module: modules.get(t.module)!, args: t.args }));
        const fresh = await readAndPlan(host, host.facts, tasks, { overlay: false });
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

const show = (v: string | null) => (v === null ? '(absent)' : JSON.stringify(v));

export function driftLine(host: string, i: DriftItem): string {
  if (i.kind === 'pending') return `${host}  ${i.setting}  pending ${i.effect}: ${i.detail}`;
  const what = i.kind === 'state' ? 'drifted' : `drifted ${i.kind}`;
  const note = i.effect ? ` [needs ${i.effect}]` : '';
  return `${host}  ${i.setting}  ${what}: expected ${show(i.expected)}, actual ${show(i.actual)}${i.detail ? ` (${i.detail})` : ''}${note}`;
}

export async function driftCommand(deps: StateCommandDeps, source: string, o: CheckFlags & { json?: boolean }): Promise<number> {
  const baseline = isBaselineDir(source);
  const hosts = baseline ? await againstBaselines(deps, source, o) : await againstPlaybook(deps, source, o);
  const list = Object.values(hosts);
  const code = list.some((h) => h.status === 'error') ? 1 : list.some((h) => h.status === 'drift') ? 2 : 0;
  const { io } = deps;
  if (o.json) {
    io.out(JSON.stringify({ against: baseline ? 'baseline' : 'playbook', source, drift: code === 2, hosts }, null, 2));
    return code;
  }
  const s = io.style;
  for (const [name, h] of Object.entries(hosts)) {
    if (h.status === 'clean') io.out(s.green(`${name}  clean`));
    for (const i of h.items) io.out(s.yellow(driftLine(name, i)));
    if (h.status === 'error') io.out(s.red(`${name}  ERROR: ${h.error}`));
  }
  const drifted = list.filter((h) => h.status === 'drift').length;
  io.out(`\n${baseline ? 'baseline' : 'playbook'} ${source}: ${drifted} of ${list.length} host(s) drifted${code === 1 ? ', some could not be checked' : ''}`);
  return code;
}
