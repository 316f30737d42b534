// modprobe: kernel module options persisted in /etc/modprobe.d, loading at boot in
// /etc/modules-load.d, live parameters in /sys/module/<m>/parameters. A loaded module whose live
// parameters differ is pending a reload (or, with reload: if-unused and no users, reloaded now).

import type { Change, HostHandle, Module, Pending, PlanContext, ReadRequest, ReadResult } from '../src/module.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { sh } from '../src/quote.js';
import { adviseUnlessAbsent } from './lib/advice.js';
import {
  MANAGED,
  MODPROBE_DIRS,
  MODULES_LOAD_DIRS,
  blacklistingFiles,
  editModprobeFile,
  effectiveOptions,
  loadedAtBoot,
  moduleKey,
  normaliseParam,
} from './lib/modprobe-conf.js';

type Scalar = string | number | boolean;

export interface ModprobeArgs {
  module: string;
  options?: Record<string, Scalar>;
  state?: 'present' | 'absent' | 'blacklisted';
  load?: 'boot' | 'now' | 'no';
  reload?: 'never' | 'if-unused';
  file?: string;
}

export interface ModuleLive {
  /** loaded: a loadable module in memory; builtin: compiled into the kernel; absent: neither. */
  state: 'loaded' | 'builtin' | 'absent';
  refcnt: number | null;
  /** parameter → value as the kernel prints it (null = not readable). */
  params: Record<string, string | null>;
}

export interface ModprobeObserved {
  /** Every modprobe.d file, path → content. */
  modprobeFiles: Record<string, string>;
  /** Every modules-load.d file and /etc/modules. */
  loadFiles: Record<string, string>;
  /** The kernel supports loadable modules (/proc/modules exists). */
  loadable: boolean;
  live: ModuleLive;
}

type ModprobeChangeData =
  | { kind: 'options-file'; path: string }
  | { kind: 'load-file'; path: string; content: string | null }
  | { kind: 'load' | 'reload' | 'unload' };

const MODULE_PATTERN = '^[A-Za-z0-9_-]{1,55}$';
const PARAM_PATTERN = '^[A-Za-z0-9_]{1,64}$';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['module'],
  properties: {
    module: {
      type: 'string',
      pattern: MODULE_PATTERN,
      'x-message': 'must be a kernel module name such as kvm_amd (letters, digits, _ and -)',
      description: 'Kernel module name; - and _ are the same (kvm-amd = kvm_amd).',
    },
    options: {
      type: 'object',
      description: 'Module parameters persisted in an `options` line (others already on that line are kept).',
      minProperties: 1,
      propertyNames: { pattern: PARAM_PATTERN, 'x-message': 'must be a parameter name such as max_vfs' },
      additionalProperties: {
        anyOf: [{ type: 'integer' }, { type: 'boolean' }, { type: 'string', pattern: '^[A-Za-z0-9_.,:/+@-]{1,256}$' }],
        'x-message': 'must be an integer, a boolean, or a word without spaces or quotes',
      },
    },
    state: {
      type: 'string',
      enum: ['present', 'absent', 'blacklisted'],
      description: 'present (default): options persisted; absent: hvtune removes its lines for the module; blacklisted: a blacklist line.',
    },
    load: {
      type: 'string',
      enum: ['boot', 'now', 'no'],
      description:
        'boot: listed in /etc/modules-load.d/MODULE.conf; now: that, and loaded now; no: that file removed. Omitted: loading is not managed.',
    },
    reload: {
      type: 'string',
      enum: ['never', 'if-unused'],
      description:
        'A loaded module whose parameters differ: never (default) reports a pending reload; if-unused reloads it now when its use count is 0.',
    },
    file: {
      type: 'string',
      pattern: '^[A-Za-z0-9_@-][A-Za-z0-9_.@-]{0,63}$',
      'x-message': 'must be a file name in /etc/modprobe.d, such as kvm or kvm.conf',
      description: 'File name in /etc/modprobe.d (default hvtune-MODULE.conf). Lines about other modules in it are kept.',
    },
  },
} as const;

function validate(args: ModprobeArgs) {
  const state = args.state ?? 'present';
  const problems: { path: string; message: string }[] = [];
  if (args.options && state !== 'present') problems.push({ path: 'options', message: `options need state: present, not ${state}` });
  if ((args.load === 'boot' || args.load === 'now') && state !== 'present') {
    problems.push({ path: 'load', message: `load: ${args.load} contradicts state: ${state}` });
  }
  return problems;
}

export const optionsPath = (args: ModprobeArgs) => `/etc/modprobe.d/${(args.file ?? `hvtune-${args.module}`).replace(/\.conf$/, '')}.conf`;
export const loadPath = (args: ModprobeArgs) => `/etc/modules-load.d/${args.module}.conf`;

// Reads $m only; m is set from a schema-checked module name, quoted.
const LIVE_SCRIPT = `[ -e /proc/modules ] && echo loadable
if [ -d "/sys/module/$m" ]; then echo present; fi
[ -r "/sys/module/$m/initstate" ] && printf 'initstate=%s\\n' "$(cat "/sys/module/$m/initstate")"
[ -r "/sys/module/$m/refcnt" ] && printf 'refcnt=%s\\n' "$(cat "/sys/module/$m/refcnt")"
for f in "/sys/module/$m/parameters/"*; do
  [ -f "$f" ] || continue
  if v=$(cat "$f" 2>/dev/null); then printf 'param %s=%s\\n' "\${f##*/}" "$v" | head -n 1; else printf 'param %s\\n' "\${f##*/}"; fi
done
true`;

/** One script for the live side; its output is what the parser fixtures capture. */
export function liveScript(module: string): string {
  return sh`m=${moduleKey(module)}` + '\n' + LIVE_SCRIPT;
}

export function parseLive(stdout: string): { loadable: boolean; live: ModuleLive } {
  const lines = stdout.split('\n');
  const value = (k: string) => lines.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
  const params: Record<string, string | null> = {};
  for (const l of lines) {
    const m = /^param ([^=]+)(?:=(.*))?$/.exec(l);
    if (m) params[m[1]] = m[2] ?? null;
  }
  const refcnt = value('refcnt');
  const state = value('initstate') !== undefined ? 'loaded' : lines.includes('present') ? 'builtin' : 'absent';
  return { loadable: lines.includes('loadable'), live: { state, refcnt: refcnt === undefined ? null : Number(refcnt), params } };
}

function read(args: ModprobeArgs): ReadRequest[] {
  return [
    { kind: 'script', script: liveScript(args.module) },
    ...MODPROBE_DIRS.map((dir): ReadRequest => ({ kind: 'glob', pattern: `${dir}/*.conf` })),
    ...MODULES_LOAD_DIRS.map((dir): ReadRequest => ({ kind: 'glob', pattern: `${dir}/*.conf` })),
    { kind: 'file', path: '/etc/modules' },
  ];
}

function parse(_args: ModprobeArgs, results: ReadResult[]): ModprobeObserved {
  const [live, ...rest] = results;
  const globs = rest.filter((r): r is Extract<ReadResult, { kind: 'glob' }> => r.kind === 'glob');
  const modules = rest.find((r): r is Extract<ReadResult, { kind: 'file' }> => r.kind === 'file');
  const loadFiles = Object.assign({}, ...globs.slice(MODPROBE_DIRS.length).map((g) => g.files));
  if (modules?.content != null) loadFiles['/etc/modules'] = modules.content;
  return {
    modprobeFiles: Object.assign({}, ...globs.slice(0, MODPROBE_DIRS.length).map((g) => g.files)),
    loadFiles,
    ...parseLive(live.kind === 'script' || live.kind === 'cmd' ? live.stdout : ''),
  };
}

const fileValue = (v: Scalar) => (typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
const fileOptions = (args: ModprobeArgs) =>
  args.options ? Object.fromEntries(Object.entries(args.options).map(([k, v]) => [k, fileValue(v)])) : undefined;
const editOf = (args: ModprobeArgs) => ({ module: args.module, options: fileOptions(args), state: args.state ?? 'present' });

/** Parameters whose live value differs from the desired one: "p=live" → "p=desired". */
function liveDiffs(args: ModprobeArgs, live: ModuleLive): { param: string; before: string; after: string }[] {
  return Object.entries(args.options ?? {}).flatMap(([param, want]) => {
    const have = live.params[param];
    if (have === undefined || have === null || normaliseParam(have) === normaliseParam(want)) return [];
    return [{ param, before: normaliseParam(have), after: normaliseParam(want) }];
  });
}

function plan(args: ModprobeArgs, observed: ModprobeObserved, ctx: PlanContext) {
  const { module } = args;
  const state = args.state ?? 'present';
  const { live } = observed;
  const changes: Change[] = [];
  const pending: Pending[] = [];
  const warnings: string[] = [];

  if (live.state !== 'absent') {
    const unknown = Object.keys(args.options ?? {}).filter((p) => !(p in live.params));
    if (unknown.length) {
      const known = Object.keys(live.params).join(', ') || 'none';
      throw new TaskError(`${ctx.host}: module ${module} has no parameter ${unknown.join(', ')} (it has: ${known})`);
    }
  }
  if (args.load === 'now' && live.state === 'absent' && !observed.loadable) {
    throw new TaskError(
      `${ctx.host}: cannot load ${module} now: this kernel (Linux ${ctx.facts.kernel.release}) has no loadable module support (no /proc/modules)`,
    );
  }

  const path = optionsPath(args);
  const before = observed.modprobeFiles[path] ?? null;
  const after = editModprobeFile(before, editOf(args));
  if (after !== before) {
    changes.push({
      summary: `${state === 'present' ? 'persist options of' : state === 'blacklisted' ? 'blacklist' : 'remove configuration of'} ${module} in ${path}`,
      target: path,
      effect: 'persistent',
      diff: { path, before, after },
      data: { kind: 'options-file', path } satisfies ModprobeChangeData,
    });
  }
  const files = { ...observed.modprobeFiles };
  if (after === null) delete files[path];
  else files[path] = after;
  const atLoad = effectiveOptions(files, module);
  for (const [param, want] of Object.entries(args.options ?? {})) {
    const got = atLoad.get(param);
    if (got && normaliseParam(got.value) !== normaliseParam(want)) {
      throw new TaskError(
        `${ctx.host}: ${got.file} sets ${module} ${param}=${got.value} and is read after ${path}, so it wins; set file: to that file or remove the line there`,
      );
    }
  }
  const blacklisted = blacklistingFiles(files, module);
  if (state === 'present' && blacklisted.length)
    warnings.push(`${module} is blacklisted in ${blacklisted.join(', ')}: it is not loaded automatically`);

  // Loading at boot.
  const ownLoad = loadPath(args);
  const ownLoadContent = observed.loadFiles[ownLoad] ?? null;
  const wantBoot = args.load === 'boot' || args.load === 'now';
  if (wantBoot && loadedAtBoot(observed.loadFiles, module).length === 0) {
    const content = `${MANAGED} (modprobe): load ${module} at boot\n${module}\n`;
    changes.push(loadFileChange(ownLoad, ownLoadContent, content, `load ${module} at boot`));
  } else if ((args.load === 'no' || state !== 'present') && ownLoadContent !== null) {
    changes.push(loadFileChange(ownLoad, ownLoadContent, null, `stop loading ${module} at boot`));
  }
  if (args.load === 'no') {
    const elsewhere = loadedAtBoot(observed.loadFiles, module).filter((f) => f !== ownLoad);
    if (elsewhere.length) warnings.push(`${module} is still loaded at boot by ${elsewhere.join(', ')}`);
  }

  // Live state.
  const diffs = liveDiffs(args, live);
  const shown = (key: 'before' | 'after') => diffs.map((d) => `${d.param}=${d[key]}`).join(' ');
  const unused = args.reload === 'if-unused' && live.refcnt === 0;
  if (state === 'present' && live.state === 'absent' && args.load === 'now') {
    changes.push({
      summary: `load ${module}`,
      target: `module:${module}`,
      effect: 'live',
      before: 'not loaded',
      after: 'loaded',
      data: { kind: 'load' },
    });
  } else if (state === 'present' && live.state === 'loaded' && diffs.length) {
    if (unused) {
      changes.push({
        summary: `reload ${module} (unused) with ${shown('after')}`,
        target: `module:${module}`,
        effect: 'module-reload',
        before: shown('before'),
        after: shown('after'),
        data: { kind: 'reload' },
      });
    } else {
      const why = live.refcnt ? `in use (${live.refcnt})` : 'loaded';
      pending.push({
        effect: 'module-reload',
        target: `module:${module}`,
        summary: `${module} is ${why} with ${shown('before')}; ${shown('after')} applies at its next load (modprobe -r ${module}; modprobe ${module}) or reboot`,
      });
    }
  } else if (state === 'present' && live.state === 'builtin' && diffs.length) {
    warnings.push(
      `${module} is built into this kernel: modprobe.d options do not reach it; set ${diffs.map((d) => `${moduleKey(module)}.${d.param}=${d.after}`).join(' ')} with grub_cmdline`,
    );
  } else if (state !== 'present' && live.state === 'loaded') {
    if (unused)
      changes.push({
        summary: `unload ${module} (unused)`,
        target: `module:${module}`,
        effect: 'live',
        before: 'loaded',
        after: 'not loaded',
        data: { kind: 'unload' },
      });
    else if (state === 'blacklisted')
      pending.push({
        effect: 'reboot',
        target: `module:${module}`,
        summary: `${module} is loaded; the blacklist applies from the next boot`,
      });
  } else if (state === 'blacklisted' && live.state === 'builtin') {
    warnings.push(`${module} is built into this kernel: a blacklist cannot stop it`);
  }
  // The JSON report keeps warnings per change: attach them to the first one when there is one.
  if (changes.length && warnings.length) changes[0] = { ...changes[0], warnings };
  return { changes, pending, warnings: changes.length ? [] : warnings };
}

function loadFileChange(path: string, before: string | null, after: string | null, summary: string): Change {
  return {
    summary,
    target: path,
    effect: 'persistent',
    diff: { path, before, after },
    data: { kind: 'load-file', path, content: after } satisfies ModprobeChangeData,
  };
}

async function apply(changes: Change[], host: HostHandle, args: ModprobeArgs): Promise<void> {
  const data = changes.map((c) => c.data as ModprobeChangeData);
  for (const d of data) {
    if (d.kind === 'options-file') {
      // Re-read and re-edit: another task of this run may share the file (file: kvm).
      const [current] = await host.read([{ kind: 'file', path: d.path }]);
      const content = current.kind === 'file' ? current.content : null;
      const next = editModprobeFile(content, editOf(args));
      if (next === null) await host.removeFile(d.path);
      else if (next !== content) await host.writeFile(d.path, next, { mode: 0o644 });
    } else if (d.kind === 'load-file') {
      if (d.content === null) await host.removeFile(d.path);
      else await host.writeFile(d.path, d.content, { mode: 0o644 });
    }
  }
  const key = moduleKey(args.module);
  const live = data.find((d) => d.kind === 'load' || d.kind === 'reload' || d.kind === 'unload');
  if (!live) return;
  if (live.kind !== 'load') await host.run(['modprobe', '-r', key]);
  if (live.kind !== 'unload') await host.run(['modprobe', key]);

  const [result] = await host.read([{ kind: 'script', script: liveScript(args.module) }]);
  const after = parseLive(result.kind === 'script' ? result.stdout : '').live;
  const loaded = after.state !== 'absent';
  if (loaded !== (live.kind !== 'unload')) {
    throw new ApplyVerifyError(
      host.name,
      `module:${args.module}`,
      live.kind === 'unload' ? 'not loaded' : 'loaded',
      loaded ? 'loaded' : 'not loaded',
    );
  }
  const wrong = loaded ? liveDiffs(args, after) : [];
  if (wrong.length) {
    throw new ApplyVerifyError(
      host.name,
      `module:${args.module}`,
      wrong.map((w) => `${w.param}=${w.after}`).join(' '),
      wrong.map((w) => `${w.param}=${w.before}`).join(' '),
    );
  }
}

export const modprobe = {
  name: 'modprobe',
  description: 'Kernel module options (/etc/modprobe.d), loading at boot (/etc/modules-load.d) and live parameters (/sys/module).',
  schema,
  validate,
  advise: adviseUnlessAbsent,
  read,
  parse,
  plan,
  apply,
} satisfies Module<ModprobeArgs, ModprobeObserved>;

export default modprobe;
