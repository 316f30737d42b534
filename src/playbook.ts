// A playbook: a list of plays, each a host pattern with variables, tasks and handlers. Loading
// checks everything that can be checked before connecting (the playbook's shape, one known module
// per task, module arguments without templates, notify targets) and reports every problem at once.

import { InputError, type InputProblem, type SourcePosition } from './errors.js';
import type { Module } from './module.js';
import { checkSchema, closestMatches, listWords, sortProblems } from './schema.js';
import { TASK_KEYWORDS, TASK_KEY_HINTS, playbookSchema } from './schemas/playbook.js';
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
  pos: SourcePosition;
  /** "plays[0].tasks[2]" */
  path: string;
  source: Source;
}

export interface Play {
  name: string;
  hosts: string;
  vars: Record<string, unknown>;
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
}

/** Where a task's module arguments sit in its source, and the module that checks them. */
const taskModules = new WeakMap<Task, { spec: ModuleSpec; at: SourcePath }>();

/** Where each play sits in its source (its index in the list of plays), and that source. */
const playPaths = new WeakMap<Play, SourcePath>();
const playSources = new WeakMap<Play, Source>();

/** The module a loaded task runs, as the registry the playbook was loaded with gave it. */
export function taskModule(task: Task): ModuleSpec {
  const known = taskModules.get(task);
  if (!known) throw new Error(`${task.path}: task was not loaded by loadPlaybook`);
  return known.spec;
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
  if (source.value === null) {
    throw new InputError([{ pos: source.pos([]), message: 'the playbook is empty: expected a list of plays' }]);
  }
  const problems = checkSchema(playbookSchema, source.value, { source, root: 'plays' });
  const plays: Play[] = [];
  const raw = Array.isArray(source.value) ? source.value : [];
  raw.forEach((play: unknown, i: number) => {
    if (!isMapping(play)) return;
    const at = [i];
    const tasks = loadTasks(source, modules, play.tasks, [...at, 'tasks'], problems);
    const handlers = loadTasks(source, modules, play.handlers, [...at, 'handlers'], problems);
    checkHandlers(source, handlers, tasks, problems);
    const hosts = Array.isArray(play.hosts) ? play.hosts.join(',') : String(play.hosts ?? '');
    const built: Play = {
      name: typeof play.name === 'string' ? play.name : hosts,
      hosts,
      vars: isMapping(play.vars) ? play.vars : {},
      secretVars: Array.isArray(play.secret_vars) ? play.secret_vars.map(String) : [],
      tasks,
      handlers,
      gatherFacts: play.gather_facts !== false,
      tags: tagList(play.tags),
      serial: play.serial === undefined ? undefined : Array.isArray(play.serial) ? play.serial : [play.serial as number | string],
      maxFailPercentage: typeof play.max_fail_percentage === 'number' ? play.max_fail_percentage : undefined,
      anyErrorsFatal: play.any_errors_fatal === true,
      pos: source.pos(at),
    };
    playPaths.set(built, at);
    playSources.set(built, source);
    plays.push(built);
  });
  const playbook = { file: source.file, plays };
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
  for (const play of playbook.plays) {
    const at = playPaths.get(play);
    const source = playSources.get(play);
    if (!at || !source) continue;
    const check = (value: unknown, path: SourcePath, scope: TemplateScope | undefined, condition = false) =>
      problems.push(...valueTemplateProblems(source, value, path, scope, condition));
    check(play.vars, [...at, 'vars'], scopes?.vars(play));
    for (const [list, handler] of [
      [play.tasks, false],
      [play.handlers, true],
    ] as const) {
      for (const task of list) {
        const taskAt = taskModules.get(task)!.at.slice(0, -1);
        const loops = task.loop !== undefined;
        // the loop is rendered before `item` and before `when`; when and args see both
        const guarded = definedGuards(task.when);
        if (loops) check(task.loop, [...taskAt, 'loop'], scopes?.task(play, task, { handler, item: false, guarded: new Set() }));
        const scope = scopes?.task(play, task, { handler, item: loops, guarded });
        if (typeof task.when === 'string') check(task.when, [...taskAt, 'when'], scope, true);
        check(task.args, [...taskAt, task.module], scope);
      }
    }
  }
  return problems;
}

/** The templates in a value (keys included), each checked at its own position. */
function valueTemplateProblems(
  source: Source,
  value: unknown,
  at: SourcePath,
  scope: TemplateScope | undefined,
  condition: boolean,
): InputProblem[] {
  const problems: InputProblem[] = [];
  const checkText = (text: string, path: SourcePath, key: boolean) => {
    for (const f of checkTemplate(text, { condition, scope })) {
      problems.push({ pos: source.textPos(path, f.offset, { key }), path: formatPath(path, 'plays'), message: f.message });
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

function loadTasks(source: Source, modules: ModuleRegistry, list: unknown, at: SourcePath, problems: InputProblem[]): Task[] {
  if (!Array.isArray(list)) return [];
  const tasks: Task[] = [];
  list.forEach((raw: unknown, j: number) => {
    const here = [...at, j];
    if (!isMapping(raw)) return;
    const module = findModule(source, modules, raw, here, problems);
    if (!module) return;
    const args = raw[module] ?? {};
    const task: Task = {
      name: typeof raw.name === 'string' ? raw.name : module,
      module,
      args,
      notify: typeof raw.notify === 'string' ? [raw.notify] : Array.isArray(raw.notify) ? raw.notify.map(String) : [],
      tags: tagList(raw.tags),
      ignoreErrors: raw.ignore_errors === true,
      secret: raw.secret === true || raw.no_log === true,
      pos: source.pos(here),
      path: formatPath(here, 'plays'),
      source,
    };
    if (typeof raw.when === 'string' || typeof raw.when === 'boolean') task.when = raw.when;
    if (raw.loop !== undefined) task.loop = raw.loop;
    if (typeof raw.register === 'string') task.register = raw.register;
    const spec = modules.get(module)!;
    taskModules.set(task, { spec, at: [...here, module] });
    problems.push(...checkArgs(task, args, { templatesPending: true }));
    tasks.push(task);
  });
  return tasks;
}

/** The task's one module key; reports unknown keys, no module, or more than one. */
function findModule(
  source: Source,
  modules: ModuleRegistry,
  task: Record<string, unknown>,
  at: SourcePath,
  problems: InputProblem[],
): string | undefined {
  const path = formatPath(at, 'plays');
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

function checkHandlers(source: Source, handlers: Task[], tasks: Task[], problems: InputProblem[]): void {
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
        pos: source.pos(notifyPath),
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
  const { spec, at } = known;
  const templated = opts.templatesPending && hasTemplate(args);
  const skip = templated ? (path: SourcePath) => touchesTemplate(args, path) : undefined;
  const problems = checkSchema(spec.schema, args, { source: task.source, at, root: 'plays', skip });
  // A module's own checks need final values: run them once nothing is left to render.
  if (!templated && problems.length === 0 && spec.validate) {
    for (const p of spec.validate(args)) {
      const path = loosePath(args, p.path);
      problems.push({ pos: task.source.pos([...at, ...path]), path: formatPath([...at, ...path], 'plays'), message: p.message });
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

function tagList(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value.map(String) : [];
  return list.map((t) => t.trim()).filter(Boolean);
}

function isMapping(value: unknown): value is Record<string, any> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
