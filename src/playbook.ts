// A playbook: a list of plays, each a host pattern with variables, tasks and handlers. Loading
// checks everything that can be checked before connecting (the playbook's shape, one known module
// per task, module arguments without templates, notify targets) and reports every problem at once.
// What a play pulls in from other files (import_playbook, import_tasks, vars_files, profiles) is
// expanded first, by compose.ts; each task keeps the file and position it was written at.

import { composePlaybook, isMapping, tagList, type SourceAt, type TaskRef, type VarLayer } from './compose.js';
import { formatProblem, InputError, type InputProblem, type SourcePosition } from './errors.js';
import type { Module } from './module.js';
import { checkSchema, closestMatches, listWords, sortProblems } from './schema.js';
import { TASK_KEYWORDS, TASK_KEY_HINTS } from './schemas/playbook.js';
import { formatPath, loadSource, parseSource, valueAt, type Source, type SourcePath } from './source.js';
import { checkTemplate, definedGuards, type TemplateScope } from './template.js';

/**
 * What the playbook needs to know of a module, and what checks of a loaded playbook ask it before
 * anything connects (a subset of the Module contract).
 */
export type ModuleSpec = Pick<Module, 'schema' | 'validate' | 'localInputs' | 'advise'>;
export type ModuleRegistry = ReadonlyMap<string, ModuleSpec>;

export interface Task {
  name: string;
  module: string;
  args: unknown;
  when?: string | boolean;
  loop?: unknown;
  notify: string[];
  tags: string[];
  register?: string;
  ignoreErrors: boolean;
  /** `secret: true` (or Ansible's `no_log: true`): nothing of its changes is printed or saved */
  secret: boolean;
  /**
   * The when: of the import_tasks/include_tasks entries that led to the task, outermost first:
   * each must hold, as the task's own `when`, for the task to run.
   */
  includeWhen?: (string | boolean)[];
  pos: SourcePosition;
  /** "plays[0].tasks[2]" */
  path: string;
  source: Source;
}

export interface Play {
  name: string;
  hosts: string;
  /** Play vars, then vars_files, then profiles' vars (later wins): above the inventory. */
  vars: Record<string, unknown>;
  /** Profiles' defaults: below the inventory, the lowest precedence. */
  defaults: Record<string, unknown>;
  /** The profiles the play applies, in the order their tasks run. */
  profiles: string[];
  /** `secret_vars`: variables (from any source) whose values are redacted wherever they appear */
  secretVars: string[];
  tasks: Task[];
  handlers: Task[];
  gatherFacts: boolean;
  tags: string[];
  /** `serial`: batch sizes, hosts or "N%" (the last repeats); absent = one batch of every host */
  serial?: (number | string)[];
  /** `max_fail_percentage`: more than this share of a batch failing stops the run */
  maxFailPercentage?: number;
  /** `any_errors_fatal`: one failure stops the play after the current task */
  anyErrorsFatal: boolean;
  pos: SourcePosition;
}

export interface Playbook {
  file: string;
  plays: Play[];
  /** Every file (and profile folder) the playbook read, itself first: saved plans hash them all. */
  files: string[];
}

/** Where a task's module arguments sit in its source, and the module that checks them. */
const taskModules = new WeakMap<Task, { spec: ModuleSpec; at: SourcePath; root: string }>();

/** Where each layer of a play's variables came from, for checking their templates in place. */
const playLayers = new WeakMap<Play, { vars: VarLayer[]; defaults: VarLayer[] }>();

/** The when: of the includes that led to a task, each at its own position. */
const includeWhens = new WeakMap<Task, TaskRef['when']>();

/** The module a loaded task runs, as the registry the playbook was loaded with gave it. */
export function taskModule(task: Task): ModuleSpec {
  const known = taskModules.get(task);
  if (!known) throw new Error(`${task.path}: task was not loaded by loadPlaybook`);
  return known.spec;
}

/** Where a loaded task's module arguments sit in its source (`[0, 'tasks', 2, 'sysctl']`). */
export function taskArgsPath(task: Task): SourcePath {
  const known = taskModules.get(task);
  if (!known) throw new Error(`${task.path}: task was not loaded by loadPlaybook`);
  return known.at;
}

/**
 * What the templates of a loaded playbook may read (template-scope.ts). Without it, templates are
 * checked for syntax, helpers and prototype lookups only.
 */
export type ScopesOf = (playbook: Playbook) => PlayScopes;

export function loadPlaybook(file: string, modules: ModuleRegistry, scopes?: ScopesOf): Playbook {
  return buildPlaybook(loadSource(file), modules, scopes);
}

/** Same as loadPlaybook, from YAML text. */
export function parsePlaybook(text: string, file: string, modules: ModuleRegistry, scopes?: ScopesOf): Playbook {
  return buildPlaybook(parseSource(text, file), modules, scopes);
}

function buildPlaybook(source: Source, modules: ModuleRegistry, scopes?: ScopesOf): Playbook {
  const composed = composePlaybook(source);
  const problems = composed.problems;
  const plays: Play[] = [];
  for (const cp of composed.plays) {
    const play = cp.raw;
    const tasks = loadTasks(modules, cp.tasks, problems);
    const handlers = loadTasks(modules, cp.handlers, problems);
    checkHandlers(handlers, tasks, problems);
    const hosts = Array.isArray(play.hosts) ? play.hosts.join(',') : String(play.hosts ?? '');
    const built: Play = {
      name: typeof play.name === 'string' ? play.name : hosts,
      hosts,
      vars: Object.assign({}, ...cp.vars.map((l) => l.value)),
      defaults: Object.assign({}, ...cp.defaults.map((l) => l.value)),
      profiles: cp.profiles,
      secretVars: Array.isArray(play.secret_vars) ? play.secret_vars.map(String) : [],
      tasks,
      handlers,
      gatherFacts: play.gather_facts !== false,
      tags: [...cp.tags, ...tagList(play.tags)],
      serial: play.serial === undefined ? undefined : Array.isArray(play.serial) ? play.serial : [play.serial as number | string],
      maxFailPercentage: typeof play.max_fail_percentage === 'number' ? play.max_fail_percentage : undefined,
      anyErrorsFatal: play.any_errors_fatal === true,
      pos: cp.source.pos(cp.at),
    };
    playLayers.set(built, { vars: cp.vars, defaults: cp.defaults });
    plays.push(built);
  }
  const playbook = { file: source.file, plays, files: composed.files };
  // templates are reported with the schema's problems, all at once
  problems.push(...templateProblems(playbook, scopes?.(playbook)));
  if (problems.length) throw new InputError(sortProblems(problems));
  return playbook;
}

/** What a template of a play may read: see template-scope.ts. */
export interface PlayScopes {
  /** The play's vars (rendered before any task: no registered results, no item). */
  vars(play: Play): TemplateScope;
  /** A task's args and when (`item` when it loops; `guarded`: names its when checks with `defined`). */
  task(play: Play, task: Task, opts: { handler: boolean; item: boolean; guarded: ReadonlySet<string> }): TemplateScope;
}

/**
 * Every template and `when:` expression of the playbook, checked without rendering: syntax,
 * helpers, prototype lookups, and with `scopes` the variables and facts they read. Each problem
 * is at the template's file:line:column.
 */
export function templateProblems(playbook: Playbook, scopes?: PlayScopes): InputProblem[] {
  const problems: InputProblem[] = [];
  const seen = new Set<string>();
  const check = (where: SourceAt, value: unknown, path: SourcePath, scope: TemplateScope | undefined, condition = false) => {
    for (const p of valueTemplateProblems(where, value, path, scope, condition)) {
      // an include's when: is checked for each task it guards: reported once
      const key = `${formatProblem(p)}`;
      if (!seen.has(key)) {
        seen.add(key);
        problems.push(p);
      }
    }
  };
  for (const play of playbook.plays) {
    const layers = playLayers.get(play);
    if (!layers) continue;
    const varsScope = scopes?.vars(play);
    // each variable is checked where its value comes from: a value another layer replaces is never rendered
    const winner = new Map<string, VarLayer>();
    for (const layer of [...layers.defaults, ...layers.vars]) for (const key of Object.keys(layer.value)) winner.set(key, layer);
    for (const [key, layer] of winner) check(layer, layer.value[key], [...layer.at, key], varsScope);
    for (const [list, handler] of [
      [play.tasks, false],
      [play.handlers, true],
    ] as const) {
      for (const task of list) {
        const known = taskModules.get(task)!;
        const where = { source: task.source, root: known.root, at: [] };
        const taskAt = known.at.slice(0, -1);
        const loops = task.loop !== undefined;
        // the loop is rendered before `item` and before `when`; when and args see both
        const outer = includeWhens.get(task) ?? [];
        const guarded = new Set([...outer.flatMap((w) => [...definedGuards(w.when)]), ...definedGuards(task.when)]);
        if (loops) check(where, task.loop, [...taskAt, 'loop'], scopes?.task(play, task, { handler, item: false, guarded: new Set() }));
        const scope = scopes?.task(play, task, { handler, item: loops, guarded });
        for (const w of outer) if (typeof w.when === 'string') check(w, w.when, w.at, scope, true);
        if (typeof task.when === 'string') check(where, task.when, [...taskAt, 'when'], scope, true);
        check(where, task.args, [...taskAt, task.module], scope);
      }
    }
  }
  return problems;
}

/** The templates in a value (keys included), each checked at its own position. */
function valueTemplateProblems(
  where: Pick<SourceAt, 'source' | 'root'>,
  value: unknown,
  at: SourcePath,
  scope: TemplateScope | undefined,
  condition: boolean,
): InputProblem[] {
  const { source, root } = where;
  const problems: InputProblem[] = [];
  const checkText = (text: string, path: SourcePath, key: boolean) => {
    for (const f of checkTemplate(text, { condition, scope })) {
      problems.push({ pos: source.textPos(path, f.offset, { key }), path: formatPath(path, root) || undefined, message: f.message });
    }
  };
  const walk = (node: unknown, path: SourcePath) => {
    if (typeof node === 'string') checkText(node, path, false);
    else if (Array.isArray(node)) node.forEach((item, i) => walk(item, [...path, i]));
    else if (isMapping(node)) {
      for (const [key, inner] of Object.entries(node)) {
        if (key.includes('{{')) checkText(key, [...path, key], true);
        walk(inner, [...path, key]);
      }
    }
  };
  walk(value, at);
  return problems;
}

function loadTasks(modules: ModuleRegistry, refs: TaskRef[], problems: InputProblem[]): Task[] {
  const tasks: Task[] = [];
  for (const ref of refs) {
    const { source, at: here, root, raw } = ref;
    const module = findModule(ref, modules, problems);
    if (!module) continue;
    const args = raw[module] ?? {};
    const task: Task = {
      name: typeof raw.name === 'string' ? raw.name : module,
      module,
      args,
      notify: typeof raw.notify === 'string' ? [raw.notify] : Array.isArray(raw.notify) ? raw.notify.map(String) : [],
      tags: [...ref.tags, ...tagList(raw.tags)],
      ignoreErrors: raw.ignore_errors === true,
      secret: raw.secret === true || raw.no_log === true,
      pos: source.pos(here),
      path: formatPath(here, root),
      source,
    };
    if (typeof raw.when === 'string' || typeof raw.when === 'boolean') task.when = raw.when;
    if (raw.loop !== undefined) task.loop = raw.loop;
    if (typeof raw.register === 'string') task.register = raw.register;
    if (ref.when.length) {
      task.includeWhen = ref.when.map((w) => w.when);
      includeWhens.set(task, ref.when);
    }
    const spec = modules.get(module)!;
    taskModules.set(task, { spec, at: [...here, module], root });
    problems.push(...checkArgs(task, args, { templatesPending: true }));
    tasks.push(task);
  }
  return tasks;
}

/** The task's one module key; reports unknown keys, no module, or more than one. */
function findModule(ref: TaskRef, modules: ModuleRegistry, problems: InputProblem[]): string | undefined {
  const { source, at, root, raw: task } = ref;
  const path = formatPath(at, root);
  const found: string[] = [];
  for (const key of Object.keys(task)) {
    if ((TASK_KEYWORDS as readonly string[]).includes(key)) continue;
    if (modules.has(key)) {
      found.push(key);
      continue;
    }
    const hint = TASK_KEY_HINTS[key];
    const keyword = hint ?? closestMatches(key, TASK_KEYWORDS)[0];
    const close = closestMatches(key, modules.keys());
    let message: string;
    if (keyword && !close.length) message = `unknown key ${JSON.stringify(key)}, did you mean ${JSON.stringify(keyword)}?`;
    else if (close.length)
      message = `unknown module ${JSON.stringify(key)}, did you mean ${close.map((c) => JSON.stringify(c)).join(' or ')}?`;
    else message = `unknown module ${JSON.stringify(key)} (modules: ${listWords([...modules.keys()].sort(), 20)})`;
    problems.push({ pos: source.pos([...at, key]), path, message });
  }
  if (found.length > 1) {
    problems.push({
      pos: source.pos([...at, found[1]]),
      path,
      message: `a task runs exactly one module, found ${found.length}: ${found.join(', ')}`,
    });
    return undefined;
  }
  if (found.length === 0 && Object.keys(task).every((k) => (TASK_KEYWORDS as readonly string[]).includes(k))) {
    problems.push({
      pos: source.pos(at),
      path,
      message: `the task has no module (one of: ${listWords([...modules.keys()].sort(), 20)})`,
    });
  }
  return found[0];
}

function checkHandlers(handlers: Task[], tasks: Task[], problems: InputProblem[]): void {
  const names = new Map<string, Task>();
  for (const handler of handlers) {
    const first = names.get(handler.name);
    if (first) {
      problems.push({
        pos: handler.pos,
        path: handler.path,
        message: `another handler is named ${JSON.stringify(handler.name)} (${first.path}); handler names must be unique`,
      });
    } else names.set(handler.name, handler);
  }
  for (const task of [...tasks, ...handlers]) {
    task.notify.forEach((name, k) => {
      if (names.has(name)) return;
      const close = closestMatches(name, names.keys());
      const known = names.size ? `handlers: ${listWords([...names.keys()].map((n) => JSON.stringify(n)))}` : 'the play has no handlers';
      const mean = close.length ? `did you mean ${JSON.stringify(close[0])}? ` : '';
      const notifyPath = taskNotifyPath(task, k);
      problems.push({
        pos: task.source.pos(notifyPath),
        path: `${task.path}.notify`,
        message: `no handler named ${JSON.stringify(name)} in this play (${mean}${known})`,
      });
    });
  }
}

/** Source path of a task's k-th notify entry (or of `notify:` when it is a single string). */
function taskNotifyPath(task: Task, k: number): SourcePath {
  const at = taskModules.get(task)!.at.slice(0, -1);
  return Array.isArray(valueAt(task.source.value, [...at, 'notify'])) ? [...at, 'notify', k] : [...at, 'notify'];
}

/**
 * Check a task's module arguments after rendering (the runner calls this per host and item).
 * Positions point at the task's arguments in the playbook.
 */
export function validateArgs(task: Task, args: unknown): InputProblem[] {
  return checkArgs(task, args, { templatesPending: false });
}

function checkArgs(task: Task, args: unknown, opts: { templatesPending: boolean }): InputProblem[] {
  const known = taskModules.get(task);
  if (!known) return [{ pos: task.pos, path: task.path, message: `task was not loaded by loadPlaybook` }];
  const { spec, at, root } = known;
  const templated = opts.templatesPending && hasTemplate(args);
  const skip = templated ? (path: SourcePath) => touchesTemplate(args, path) : undefined;
  const problems = checkSchema(spec.schema, args, { source: task.source, at, root, skip });
  // A module's own checks need final values: run them once nothing is left to render.
  if (!templated && problems.length === 0 && spec.validate) {
    for (const p of spec.validate(args)) {
      const path = loosePath(args, p.path);
      problems.push({ pos: task.source.pos([...at, ...path]), path: formatPath([...at, ...path], root), message: p.message });
    }
  }
  return problems;
}

/** True when a string anywhere in the value (keys included) is a template. */
export function hasTemplate(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{');
  if (Array.isArray(value)) return value.some(hasTemplate);
  if (isMapping(value)) return Object.entries(value).some(([k, v]) => k.includes('{{') || hasTemplate(v));
  return false;
}

/** A problem at `path` may be caused by a template: on it, inside it, or in a key of the object. */
function touchesTemplate(args: unknown, path: SourcePath): boolean {
  for (let n = 0; n <= path.length; n++) {
    const value = valueAt(args, path.slice(0, n));
    if (typeof value === 'string' && value.includes('{{')) return true;
    const key = path[n - 1];
    if (typeof key === 'string' && key.includes('{{')) return true;
  }
  const here = valueAt(args, path);
  return isMapping(here) && Object.keys(here).some((k) => k.includes('{{'));
}

/**
 * A module's validate() names paths loosely: a JSON pointer (`/values/net.core.somaxconn`) or
 * dotted (`values.net.core.somaxconn`, whose last key has dots). Match against the arguments.
 */
function loosePath(args: unknown, path: string): SourcePath {
  if (!path) return [];
  const parts = path.startsWith('/') ? path.slice(1).split('/') : path.replace(/\[(\d+)\]/g, '.$1').split('.');
  const out: (string | number)[] = [];
  let node = args;
  for (let i = 0; i < parts.length; i++) {
    if (Array.isArray(node) && /^\d+$/.test(parts[i])) {
      out.push(Number(parts[i]));
      node = node[Number(parts[i])];
      continue;
    }
    // The longest run of parts that is a key of this mapping (sysctl names contain dots).
    let taken = 1;
    for (let j = parts.length; j > i; j--) {
      if (isMapping(node) && parts.slice(i, j).join('.') in node) {
        taken = j - i;
        break;
      }
    }
    const key = parts.slice(i, i + taken).join('.');
    out.push(key);
    node = isMapping(node) ? node[key] : undefined;
    i += taken - 1;
  }
  return out;
}
