// Saved plans (`hvtune plan -o PLAN.json`, `hvtune rollback`): per host, every task with its
// rendered args and the changes planned from what was observed, plus content hashes of the inputs.
// The saved plan is the contract, as in Terraform: apply runs exactly these changes, after checking
// that the host still is what the plan was computed from.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HvtuneError } from './errors.js';
import type { Change } from './module.js';
import type { Facts } from './facts.js';
import { taskModule, type Playbook } from './playbook.js';
import type { RunEvent } from './events.js';
import type { PlannedTask } from './engine/types.js';
import { changeDigest, sealTask, unseal, type SecretValues } from './secrets.js';

export const PLAN_FORMAT = 'hvtune-plan';
/** 2: grub_cmdline and ethtool changes carry what apply needs in their data (files, device). */
export const PLAN_VERSION = 2;

/** An input file and the sha256 of its content when the plan was made (null: it did not exist). */
export interface InputFile {
  path: string;
  sha256: string | null;
}

export interface PlanInputs {
  playbook: InputFile | null;
  /** The first inventory source (the only one before several -i and group_vars/ were read). */
  inventory: InputFile;
  /** Every `-i` given, when more than one (apply and rollback load the same inventory). */
  inventorySources?: string[];
  /** Every inventory file read beyond the first (directories' files, group_vars/, host_vars/). */
  inventoryFiles?: InputFile[];
  /** Every file the playbook read beyond itself (import_playbook, import_tasks, vars_files, profiles). */
  playbookFiles?: InputFile[];
  templates: InputFile[];
}

export interface PlanHost {
  facts: Facts;
  tasks: PlannedTask[];
}

export interface SavedPlan {
  format: typeof PLAN_FORMAT;
  version: typeof PLAN_VERSION;
  kind: 'plan' | 'rollback';
  /** the run record a rollback plan undoes */
  record?: string;
  createdAt: string;
  /** the plays' names by index (`hvtune show` prints them as check mode does) */
  plays?: string[];
  inputs: PlanInputs;
  options: { limit?: string; tags: string[]; skipTags: string[]; extraVars: Record<string, unknown> };
  hosts: Record<string, PlanHost>;
  /**
   * Secret values the plan does not keep: marker id → the variable that held it. Wherever the value
   * was, the plan has `<secret:ID>`; `apply` needs it again (-e) and puts it back (src/secrets.ts).
   */
  secrets?: Record<string, string>;
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

export function hashFile(path: string): InputFile {
  const abs = resolve(path);
  if (!existsSync(abs)) return { path: abs, sha256: null };
  // a directory inventory: its list of entries (each file it reads is hashed on its own)
  if (statSync(abs).isDirectory())
    return { path: abs, sha256: sha256(`directory\n${readdirSync(abs, { recursive: true }).map(String).sort().join('\n')}`) };
  return { path: abs, sha256: sha256(readFileSync(abs)) };
}

/**
 * Local files the playbook's tasks name (a file task's `template:`), as each task's module declares
 * them (Module.localInputs), resolved against the playbook's folder.
 */
export function templatePaths(playbook: Playbook): string[] {
  const found = new Set<string>();
  for (const play of playbook.plays) {
    for (const t of [...play.tasks, ...play.handlers]) {
      // relative to the file the task is written in (a profile's own folder for its tasks)
      for (const path of taskModule(t).localInputs?.(t.args) ?? []) found.add(resolve(dirname(t.pos.file), path));
    }
  }
  return [...found].sort();
}

export function planInputs(playbookFile: string | null, inventory: InventoryInputs, playbook?: Playbook): PlanInputs {
  const sources = inventory.sources ?? [inventory.file];
  // a host list (`-i hv1,hv2,`) is not a file: kept as given, it hashes as absent both times
  const first = isHostList(sources[0]) ? { path: sources[0], sha256: null } : hashFile(sources[0]);
  const inputs: PlanInputs = {
    playbook: playbookFile === null ? null : hashFile(playbookFile),
    inventory: first,
    templates: playbook ? templatePaths(playbook).map(hashFile) : [],
  };
  if (sources.length > 1) inputs.inventorySources = sources.map((s) => (isHostList(s) ? s : resolve(s)));
  const more = (inventory.files ?? []).map(hashFile).filter((f) => f.path !== first.path);
  if (more.length) inputs.inventoryFiles = more;
  const included = (playbook?.files ?? []).map(hashFile).filter((f) => f.path !== inputs.playbook?.path);
  if (included.length) inputs.playbookFiles = included;
  return inputs;
}

/** What planInputs needs of an inventory: where -i pointed and the files read. */
export interface InventoryInputs {
  file: string;
  sources?: string[];
  files?: string[];
}

const isHostList = (s: string) => s.includes(',') && !existsSync(s);

/** The `-i` sources a plan or record was made with, for loading the same inventory again. */
export function inventorySourcesOf(inputs: PlanInputs): string[] {
  return inputs.inventorySources ?? [inputs.inventory.path];
}

/** The playbook's folder, whose group_vars/ and host_vars/ the inventory read. */
export function playbookDirOf(inputs: PlanInputs): string | undefined {
  return inputs.playbook ? dirname(inputs.playbook.path) : undefined;
}

/** Inputs whose content differs now from when the plan was made, as sentences. */
export function changedInputs(inputs: PlanInputs): string[] {
  const files = [
    inputs.playbook,
    inputs.inventory,
    ...(inputs.inventoryFiles ?? []),
    ...(inputs.playbookFiles ?? []),
    ...inputs.templates,
  ].filter((f): f is InputFile => f !== null);
  const out: string[] = [];
  for (const f of files) {
    const now = hashFile(f.path).sha256;
    if (now === f.sha256) continue;
    out.push(
      now === null
        ? `${f.path} no longer exists`
        : f.sha256 === null
          ? `${f.path} did not exist when the plan was made`
          : `${f.path} changed since the plan was made`,
    );
  }
  return out;
}

/** The planned tasks of a run, by host, from its `task-planned` events. */
export function plannedTasksOf(): { onEvent(e: RunEvent): void; hosts: Record<string, PlanHost> } {
  const hosts: Record<string, PlanHost> = {};
  return {
    hosts,
    onEvent(e) {
      if (e.type !== 'task-planned') return;
      (hosts[e.host] ??= { facts: e.facts, tasks: [] }).tasks.push(e.planned);
    },
  };
}

export function changeCount(plan: { hosts: Record<string, { tasks: { changes: Change[] }[] }> }): number {
  return Object.values(plan.hosts).reduce((n, h) => n + h.tasks.reduce((m, t) => m + t.changes.length, 0), 0);
}

export function serialisePlan(plan: SavedPlan): string {
  return JSON.stringify(plan, null, 2) + '\n';
}

/** Parse and check a saved plan; every problem names the file and what was expected. */
export function parsePlan(text: string, file: string): SavedPlan {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new HvtuneError(`${file}: not a saved plan: ${(err as Error).message}`);
  }
  const p = data as Partial<SavedPlan>;
  if (!p || typeof p !== 'object' || p.format !== PLAN_FORMAT) {
    throw new HvtuneError(`${file}: not a saved plan: expected "format": "${PLAN_FORMAT}" (make one with hvtune plan -o ${file})`);
  }
  if (p.version !== PLAN_VERSION)
    throw new HvtuneError(`${file}: plan format version ${p.version}, this hvtune reads version ${PLAN_VERSION}`);
  if (!p.inputs || typeof p.inputs.inventory?.path !== 'string') throw new HvtuneError(`${file}: expected inputs.inventory.path`);
  if (!p.hosts || typeof p.hosts !== 'object') throw new HvtuneError(`${file}: expected "hosts": an object of host → tasks`);
  for (const [host, h] of Object.entries(p.hosts)) {
    if (!h || !Array.isArray(h.tasks)) throw new HvtuneError(`${file}: hosts.${host}: expected "tasks": a list`);
    h.tasks.forEach((t, i) => {
      const at = `${file}: hosts.${host}.tasks[${i}]`;
      if (typeof t.module !== 'string' || typeof t.task !== 'string' || typeof t.play !== 'number') {
        throw new HvtuneError(`${at}: expected "play" (number), "task" and "module" (strings)`);
      }
      if (!Array.isArray(t.changes) || t.changes.some((c) => typeof c?.target !== 'string' || typeof c.effect !== 'string')) {
        throw new HvtuneError(`${at}: expected "changes": a list of changes with target and effect`);
      }
      t.pending ??= [];
      t.handler = t.handler === true;
    });
  }
  return p as SavedPlan;
}

export function readPlan(file: string): SavedPlan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new HvtuneError(`${file}: cannot read the plan: ${(err as Error).message}`);
  }
  return parsePlan(text, file);
}

const show = (v: string | null | undefined) => (v === null || v === undefined ? 'absent' : JSON.stringify(v));

function changeText(c: Change): string {
  if (c.diff) return c.diff.before === null ? 'create the file' : c.diff.after === null ? 'remove the file' : 'edit the file';
  return `${show(c.before)} → ${show(c.after)}`;
}

/**
 * How the changes planned now differ from the saved ones, one sentence per setting; empty when
 * the host is still what the plan was computed from. Summaries, warnings and data are not compared:
 * targets, effects, befores and afters (file contents for diffs) are.
 */
export function compareChanges(saved: Change[], fresh: Change[]): string[] {
  const unused = [...fresh];
  const out: string[] = [];
  for (const s of saved) {
    const i = unused.findIndex((f) => f.target === s.target);
    if (i < 0) {
      out.push(`${s.target}: no longer needs the planned change (${changeText(s)}): it was changed since the plan`);
      continue;
    }
    const [f] = unused.splice(i, 1);
    if (s.diff || f.diff) {
      if ((s.diff?.before ?? null) !== (f.diff?.before ?? null)) out.push(`${s.target}: the file changed since the plan`);
      else if ((s.diff?.after ?? null) !== (f.diff?.after ?? null)) out.push(`${s.target}: would now be written differently than planned`);
    }
    if ((s.before ?? null) !== (f.before ?? null)) out.push(`${s.target}: was ${show(s.before)} when planned, is now ${show(f.before)}`);
    else if ((s.after ?? null) !== (f.after ?? null))
      out.push(`${s.target}: would now be set to ${show(f.after)}, the plan says ${show(s.after)}`);
    else if (s.effect !== f.effect) out.push(`${s.target}: now needs ${f.effect}, the plan says ${s.effect}`);
  }
  for (const f of unused) out.push(`${f.target}: now needs a change the plan does not have (${changeText(f)})`);
  return out;
}

/**
 * A plan as saved: a secret task's changes sealed (digests instead of contents: apply plans the task
 * again and runs the fresh changes when their digests match), and every secret value replaced by
 * a marker that `unsealPlan` resolves from the values given to apply.
 */
export function sealPlan(plan: SavedPlan, secrets?: SecretValues): SavedPlan {
  const hosts = Object.fromEntries(Object.entries(plan.hosts).map(([name, h]) => [name, { ...h, tasks: h.tasks.map(sealTask) }]));
  const sealed = { ...plan, hosts };
  if (!secrets?.size) return sealed;
  const { value, markers } = secrets.seal(sealed);
  return Object.keys(markers).length ? { ...value, secrets: markers } : value;
}

/** The plan with its secret values back, from values the user gave (-e) or the inventory holds. */
export function unsealPlan(plan: SavedPlan, candidates: Iterable<string>, file: string): SavedPlan {
  if (!plan.secrets || Object.keys(plan.secrets).length === 0) return plan;
  try {
    const { secrets, ...rest } = plan;
    return { ...unseal(rest, secrets, candidates), secrets };
  } catch (err) {
    throw new HvtuneError(`${file}: ${(err as Error).message}`);
  }
}

/**
 * compareChanges for a secret task, whose saved changes carry digests instead of contents: the
 * fresh plan must give the same targets with the same digests. Says what changed, never the values.
 */
export function compareSealedChanges(saved: Change[], fresh: Change[]): string[] {
  const unused = [...fresh];
  const out: string[] = [];
  for (const s of saved) {
    const i = unused.findIndex((f) => f.target === s.target);
    if (i < 0) {
      out.push(`${s.target}: no longer needs the planned change: it was changed since the plan (secret task: values not shown)`);
      continue;
    }
    const [f] = unused.splice(i, 1);
    if (s.digest !== changeDigest(f)) out.push(`${s.target}: changed since the plan (secret task: values not shown)`);
  }
  for (const f of unused) out.push(`${f.target}: now needs a change the plan does not have (secret task: values not shown)`);
  return out;
}
