// Baselines (`hvtune snapshot PLAYBOOK -i INV -o baselines/`): one YAML file per host with the
// desired, persisted and live value of every setting the playbook manages. The files hold no
// timestamps and everything is in a stable order (tasks as in the playbook, keys sorted), so a
// snapshot re-taken on unchanged hosts is byte-identical and git diffs show only what moved.

import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import type { Change, Module, SettingState } from './module.js';
import type { PlannedTask } from './engine/types.js';
import { HvtuneError } from './errors.js';
import { sha256 } from './planfile.js';

/** A planned task as a baseline keeps it: its settings' states instead of its changes. */
export interface BaselineTask extends Pick<PlannedTask, 'task' | 'module' | 'args'> {
  /** setting → its three states, sorted by name */
  settings: Record<string, SettingState>;
  /** modules without a snapshot hook: a hash of everything the module observed */
  state?: string;
}

export interface Baseline {
  host: string;
  tasks: BaselineTask[];
}

/** Object keys sorted at every level, so the same data always serialises the same way. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

const fileText = (content: string | null | undefined) =>
  content === null || content === undefined ? null : `sha256:${sha256(content).slice(0, 16)} (${Buffer.byteLength(content)} bytes)`;

/**
 * For modules without a snapshot hook: every target the plan would change, with the planned value
 * as desired and the observed one as live (live changes) or persisted (the rest); plus a hash of
 * the whole Observed, which is what a baseline comparison checks for such a task.
 */
export function fallbackSnapshot(observed: unknown, changes: Change[]): { settings: Record<string, SettingState>; state: string } {
  const settings: Record<string, SettingState> = {};
  for (const c of changes) {
    const desired = c.diff ? fileText(c.diff.after) : (c.after ?? null);
    const now = c.diff ? fileText(c.diff.before) : (c.before ?? null);
    settings[c.target] = c.effect === 'live' ? { desired, persisted: null, live: now } : { desired, persisted: now, live: null };
  }
  return { settings, state: `sha256:${sha256(JSON.stringify(canonical(observed) ?? null))}` };
}

/** One task's settings now: the module's hook, or the fallback. */
export function taskSnapshot(
  module: Module,
  args: unknown,
  observed: unknown,
  changes: Change[],
): Pick<BaselineTask, 'settings' | 'state'> {
  if (module.snapshot) return { settings: canonical(module.snapshot(args, observed)) as Record<string, SettingState> };
  const f = fallbackSnapshot(observed, changes);
  return { settings: canonical(f.settings) as Record<string, SettingState>, state: f.state };
}

export function serialiseBaseline(b: Baseline): string {
  const header =
    `# hvtune baseline of ${b.host}: desired, persisted and live values of the settings the playbook manages.\n` +
    `# Compare: hvtune drift DIR -i INVENTORY. Re-take: hvtune snapshot PLAYBOOK -i INVENTORY -o DIR.\n`;
  const doc = {
    host: b.host,
    tasks: b.tasks.map((t) => ({
      task: t.task,
      module: t.module,
      args: canonical(t.args),
      settings: t.settings,
      ...(t.state ? { state: t.state } : {}),
    })),
  };
  return header + stringify(doc, { lineWidth: 0 });
}

export function parseBaseline(text: string, file: string): Baseline {
  let data: Partial<Baseline>;
  try {
    data = parseYaml(text) as Partial<Baseline>;
  } catch (err) {
    throw new HvtuneError(`${file}: not a baseline: ${(err as Error).message}`);
  }
  if (!data || typeof data.host !== 'string' || !Array.isArray(data.tasks)) {
    throw new HvtuneError(`${file}: not a baseline: expected "host" and a list of "tasks" (made by hvtune snapshot)`);
  }
  data.tasks.forEach((t, i) => {
    if (typeof t?.module !== 'string' || typeof t.task !== 'string' || !t.settings || typeof t.settings !== 'object') {
      throw new HvtuneError(`${file}: tasks[${i}]: expected "task", "module", "args" and "settings"`);
    }
  });
  return data as Baseline;
}

export function isBaselineDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

export function readBaselineDir(dir: string): Baseline[] {
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  if (files.length === 0)
    throw new HvtuneError(`${dir}: no baseline files (HOST.yml) in it; make them with hvtune snapshot PLAYBOOK -i INVENTORY -o ${dir}`);
  return files.map((f) => parseBaseline(readFileSync(join(dir, f), 'utf8'), join(dir, f)));
}
