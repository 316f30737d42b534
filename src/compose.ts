// Composition: the plays of a playbook with everything they pull in from other files —
// import_playbook, import_tasks/include_tasks, vars_files and profiles (profiles.ts) — expanded at
// load time. All of it is static: hvtune has no task results that could choose a file, so
// include_tasks is read like import_tasks, and its when:/tags: apply to every task it brings.
// Every file is parsed with positions, and a problem in an included file names the include chain
// that led to it (SourcePosition.via). Cycles are errors; a profile included twice in a play
// (a diamond) is applied once.

import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { InputError, type InputProblem } from './errors.js';
import { findProfile, isFolder, profileSearchPath, PROFILE_FOLDER_FILES } from './profiles.js';
import { checkSchema } from './schema.js';
import {
  INCLUDE_TASK_KEYS,
  INCLUDE_TASK_KEYWORDS,
  importPlaybookSchema,
  playSchema,
  playbookSchema,
  profileMetaSchema,
  profileSchema,
  tasksFileSchema,
  varsFileSchema,
} from './schemas/playbook.js';
import { formatPath, includeChain, includedSource, loadSource, type Source, type SourcePath } from './source.js';

/** A place in a source, and the root its paths are printed from ('plays' in a playbook). */
export interface SourceAt {
  source: Source;
  at: SourcePath;
  root: string;
}

/** A task entry as written, with what the includes that led to it add. */
export interface TaskRef extends SourceAt {
  raw: Record<string, unknown>;
  /** The when: of each include that led here, outermost first: all must hold. */
  when: (SourceAt & { when: string | boolean })[];
  /** The tags of those includes. */
  tags: string[];
}

/** One mapping of variables from one place (play vars, a vars file, a profile's defaults or vars). */
export interface VarLayer extends SourceAt {
  value: Record<string, unknown>;
}

export interface ComposedPlay extends SourceAt {
  raw: Record<string, unknown>;
  /** Tags of the import_playbook entries that led to the play. */
  tags: string[];
  tasks: TaskRef[];
  handlers: TaskRef[];
  /** Profiles' defaults, lowest precedence first (an included profile's before its includer's). */
  defaults: VarLayer[];
  /** Play vars, then vars_files in order, then profiles' vars: lowest precedence first. */
  vars: VarLayer[];
  /** The profiles applied, in the order their tasks run. */
  profiles: string[];
}

export interface Composed {
  plays: ComposedPlay[];
  /** Every file and profile folder read, the playbook first (absolute paths). */
  files: string[];
  problems: InputProblem[];
}

export function composePlaybook(source: Source, env: NodeJS.ProcessEnv = process.env): Composed {
  const composer = new Composer(env);
  const file = resolve(source.file);
  composer.files.add(file);
  composer.plays(source, [file], []);
  return { plays: composer.out, files: [...composer.files], problems: composer.problems };
}

export function tagList(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value.map(String) : [];
  return list.map((t) => t.trim()).filter(Boolean);
}

export function isMapping(value: unknown): value is Record<string, any> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const shown = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
};

class Composer {
  readonly files = new Set<string>();
  readonly problems: InputProblem[] = [];
  readonly out: ComposedPlay[] = [];
  /** Parsed files by absolute path (null: unreadable, already reported). */
  private readonly parsed = new Map<string, Source | null>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  private problem(where: SourceAt, path: SourcePath, message: string): void {
    this.problems.push({ pos: where.source.pos(path), path: formatPath(path, where.root) || undefined, message });
  }

  /** The file at `abs`, seen as included from `site`; problems reading it carry the chain. */
  private read(abs: string, site: SourceAt, sitePath: SourcePath, what: string): Source | undefined {
    if (!existsSync(abs)) {
      this.problem(site, sitePath, `no such ${what}: ${shown(abs)}`);
      return undefined;
    }
    const via = includeChain(site.source.pos(sitePath));
    this.files.add(abs);
    let source = this.parsed.get(abs);
    if (source === undefined) {
      try {
        // named as the user would type it (relative below the working directory), like the playbook given
        source = loadSource(shown(abs));
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        this.problems.push(...err.problems.map((p) => ({ ...p, pos: p.pos && { ...p.pos, via } })));
        source = null;
      }
      this.parsed.set(abs, source);
    }
    return source ? includedSource(source, via) : undefined;
  }

  private check(schema: object, source: Source, root: string): void {
    this.problems.push(...checkSchema(schema, source.value, { source, root }));
  }

  /** The plays of a playbook file; `stack`: the playbook files importing it, for cycles. */
  plays(source: Source, stack: string[], tags: string[]): void {
    const value = source.value;
    if (value === null) {
      this.problems.push({ pos: source.pos([]), message: 'the playbook is empty: expected a list of plays' });
      return;
    }
    const isImport = (entry: unknown) => isMapping(entry) && 'import_playbook' in entry;
    if (!Array.isArray(value) || !value.some(isImport)) this.check(playbookSchema, source, 'plays');
    else {
      value.forEach((entry, i) => {
        const schema = isImport(entry) ? importPlaybookSchema : playSchema;
        this.problems.push(...checkSchema(schema, entry, { source, at: [i], root: 'plays' }));
      });
    }
    if (!Array.isArray(value)) return;
    value.forEach((entry: unknown, i: number) => {
      if (!isMapping(entry)) return;
      const here = { source, at: [i], root: 'plays' };
      if (!isImport(entry)) return this.play(here, entry, tags);
      const file = entry.import_playbook;
      if (typeof file !== 'string' || !file) return;
      const sitePath = [i, 'import_playbook'];
      const abs = resolve(dirname(source.file), file);
      if (stack.includes(abs)) return this.problem(here, sitePath, `import cycle: ${cycle(stack, abs, shown)}`);
      const inner = this.read(abs, here, sitePath, 'playbook');
      if (inner) this.plays(inner, [...stack, abs], [...tags, ...tagList(entry.tags)]);
    });
  }

  private play(here: SourceAt, raw: Record<string, unknown>, tags: string[]): void {
    const { source, at } = here;
    const play: ComposedPlay = { ...here, raw, tags, tasks: [], handlers: [], defaults: [], vars: [], profiles: [] };
    if (isMapping(raw.vars)) play.vars.push({ ...here, at: [...at, 'vars'], value: raw.vars });
    if (Array.isArray(raw.vars_files)) {
      raw.vars_files.forEach((file: unknown, k: number) => {
        if (typeof file !== 'string' || !file) return;
        const sitePath = [...at, 'vars_files', k];
        if (file.includes('{{'))
          return this.problem(here, sitePath, 'vars_files are read before any host is reached: name the file, without a template');
        const vars = this.read(resolve(dirname(source.file), file), here, sitePath, 'vars file');
        if (!vars) return;
        this.check(varsFileSchema, vars, '');
        if (isMapping(vars.value)) play.vars.push({ source: vars, at: [], root: '', value: vars.value });
      });
    }
    if (Array.isArray(raw.profiles)) {
      const search = profileSearchPath(dirname(source.file), this.env);
      const applied = new Set<string>();
      raw.profiles.forEach((name: unknown, k: number) => {
        if (typeof name === 'string') this.profile(play, name, here, [...at, 'profiles', k], [], search, applied);
      });
    }
    const file = resolve(source.file);
    this.tasks(play.tasks, here, [...at, 'tasks'], raw.tasks, [], [], [file]);
    this.tasks(play.handlers, here, [...at, 'handlers'], raw.handlers, [], [], [file]);
    this.out.push(play);
  }

  /**
   * Apply profile `name` to the play: the profiles it includes first, then its own defaults, vars,
   * tasks and handlers, so what the includer says wins over what it includes.
   */
  private profile(
    play: ComposedPlay,
    name: string,
    site: SourceAt,
    sitePath: SourcePath,
    stack: string[],
    search: string[],
    applied: Set<string>,
  ): void {
    if (stack.includes(name)) {
      this.problem(site, sitePath, `profile include cycle: ${cycle(stack, name, (n) => n)}`);
      return;
    }
    if (applied.has(name)) return;
    applied.add(name);
    const found = findProfile(name, search);
    if (!found) {
      this.problem(site, sitePath, `no profile named ${JSON.stringify(name)} (looked in ${search.map(shown).join(', ')})`);
      return;
    }
    if ('ambiguous' in found) {
      const [file, folder] = found.ambiguous.map(shown);
      this.problem(site, sitePath, `profile ${JSON.stringify(name)} is both ${file} and ${folder}/: keep one`);
      return;
    }
    const parts = this.profileParts(found, site, sitePath);
    if (!parts) return;
    const { include } = parts;
    if (include) {
      const names = typeof include.value === 'string' ? [include.value] : Array.isArray(include.value) ? include.value : [];
      names.forEach((inner: unknown, k: number) => {
        const innerPath = Array.isArray(include.value) ? [...include.at, k] : include.at;
        if (typeof inner === 'string') this.profile(play, inner, include, innerPath, [...stack, name], search, applied);
      });
    }
    if (parts.defaults && isMapping(parts.defaults.value)) play.defaults.push({ ...parts.defaults, value: parts.defaults.value });
    if (parts.vars && isMapping(parts.vars.value)) play.vars.push({ ...parts.vars, value: parts.vars.value });
    for (const [list, into] of [
      [parts.tasks, play.tasks],
      [parts.handlers, play.handlers],
    ] as const) {
      if (list) this.tasks(into, list, list.at, list.value, [], [], [resolve(list.source.file)]);
    }
    play.profiles.push(name);
  }

  /** A profile's parts, from its one file or from the files of its folder. */
  private profileParts(
    found: { kind: 'file' | 'folder'; path: string },
    site: SourceAt,
    sitePath: SourcePath,
  ): Partial<Record<'include' | 'defaults' | 'vars' | 'tasks' | 'handlers', SourceAt & { value: unknown }>> | undefined {
    const parts: Partial<Record<'include' | 'defaults' | 'vars' | 'tasks' | 'handlers', SourceAt & { value: unknown }>> = {};
    if (found.kind === 'file') {
      const source = this.read(found.path, site, sitePath, 'profile');
      if (!source) return undefined;
      this.check(profileSchema, source, '');
      if (source.value !== null && !isMapping(source.value)) return undefined;
      const value = (source.value ?? {}) as Record<string, unknown>;
      for (const key of ['include', 'defaults', 'vars', 'tasks', 'handlers'] as const) {
        if (value[key] !== undefined && value[key] !== null) parts[key] = { source, at: [key], root: '', value: value[key] };
      }
      return parts;
    }
    this.files.add(found.path);
    for (const part of PROFILE_FOLDER_FILES) {
      const file = join(found.path, `${part}.yml`);
      if (!existsSync(file) || isFolder(file)) continue;
      const source = this.read(file, site, sitePath, 'profile file');
      if (!source) continue;
      const list = part === 'tasks' || part === 'handlers';
      this.check(part === 'meta' ? profileMetaSchema : list ? tasksFileSchema : varsFileSchema, source, list ? part : '');
      if (source.value === null) continue;
      if (part === 'meta') {
        if (isMapping(source.value) && source.value.include !== undefined)
          parts.include = { source, at: ['include'], root: '', value: source.value.include };
      } else parts[part] = { source, at: [], root: list ? part : '', value: source.value };
    }
    return parts;
  }

  /**
   * The tasks of a list, with import_tasks/include_tasks expanded in place. `when`/`tags`: those
   * of the includes around the list; `stack`: the files being read, for cycles.
   */
  private tasks(
    out: TaskRef[],
    where: SourceAt,
    at: SourcePath,
    list: unknown,
    when: TaskRef['when'],
    tags: string[],
    stack: string[],
  ): void {
    if (!Array.isArray(list)) return;
    const { source, root } = where;
    list.forEach((raw: unknown, j: number) => {
      const here = [...at, j];
      if (!isMapping(raw)) return;
      const keys = INCLUDE_TASK_KEYS.filter((k) => k in raw);
      if (!keys.length) {
        out.push({ source, at: here, root, raw, when, tags });
        return;
      }
      const key = keys[0];
      let valid = true;
      for (const other of Object.keys(raw)) {
        if (other === key || (INCLUDE_TASK_KEYWORDS as readonly string[]).includes(other)) continue;
        valid = false;
        this.problem(
          where,
          [...here, other],
          `${key} takes only ${INCLUDE_TASK_KEYWORDS.join(', ')} besides the file (hvtune reads it at load time): unknown key ${JSON.stringify(other)}`,
        );
      }
      const file = raw[key];
      if (typeof file !== 'string' || !file) {
        this.problem(where, [...here, key], 'must be a file of tasks, relative to this file');
        return;
      }
      if (file.includes('{{')) {
        this.problem(where, [...here, key], `${key} is read before any host is reached: name the file, without a template`);
        return;
      }
      if (!valid) return;
      const abs = resolve(dirname(source.file), file);
      if (stack.includes(abs)) {
        this.problem(where, [...here, key], `include cycle: ${cycle(stack, abs, shown)}`);
        return;
      }
      const inner = this.read(abs, where, [...here, key], 'tasks file');
      if (!inner) return;
      this.check(tasksFileSchema, inner, 'tasks');
      const condition = raw.when;
      const innerWhen =
        typeof condition === 'string' || typeof condition === 'boolean'
          ? [...when, { source, at: [...here, 'when'], root, when: condition }]
          : when;
      this.tasks(
        out,
        { source: inner, at: [], root: 'tasks' },
        [],
        inner.value,
        innerWhen,
        [...tags, ...tagList(raw.tags)],
        [...stack, abs],
      );
    });
  }
}

/** "a.yml → b.yml → a.yml": the part of the stack from `again`'s first entry, and `again`. */
function cycle(stack: string[], again: string, show: (s: string) => string): string {
  return [...stack.slice(stack.indexOf(again)), again].map(show).join(' → ');
}
