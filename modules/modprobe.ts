// modprobe: kernel module options persisted in /etc/modprobe.d, loading at boot in
// /etc/modules-load.d, live parameters in /sys/module/<m>/parameters. A loaded module whose live
// parameters differ is pending a reload (or, with reload: if-unused and no users, reloaded now).
// A module with a device bound to its driver is in use whatever its use count says (a NIC driver
// carrying traffic shows 0). Options or a blacklist of a module the initramfs holds reach the boot
// only when the initramfs is regenerated: a finalizer does that once per host, and a later run
// regenerates again when the image is still older than the module's configuration. Blacklisting
// the driver of the NIC that carries the SSH session is refused unless the task says it may.

import type { Change, HostHandle, Module, Pending, PlanContext, ReadRequest, ReadResult } from '../src/module.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { joinArgv, sh } from '../src/quote.js';
import { adviseOnModuleOptions } from './lib/advice.js';
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
import { riskyModuleOptions } from './lib/risky-settings.js';

type Scalar = string | number | boolean;

export interface ModprobeArgs {
  module: string;
  options?: Record<string, Scalar>;
  state?: 'present' | 'absent' | 'blacklisted';
  load?: 'boot' | 'now' | 'no';
  reload?: 'never' | 'if-unused';
  file?: string;
  allow_session_nic?: boolean;
}

export interface ModuleLive {
  /** loaded: a loadable module in memory; builtin: compiled into the kernel; absent: neither. */
  state: 'loaded' | 'builtin' | 'absent';
  refcnt: number | null;
  /** parameter → value as the kernel prints it (null = not readable). */
  params: Record<string, string | null>;
  /** Devices bound to the module's drivers (`pci:e1000e/0000:00:03.0`), and modules that use it. */
  bound?: string[];
  holders?: string[];
}

/** The initramfs of the running kernel, when there is one and the module is not built in. */
export interface InitramfsObserved {
  image: string;
  /** The tools the host has: update-initramfs or dracut regenerate; lsinitramfs or lsinitrd list. */
  tools: string[];
  /** Configuration files of the module newer than the image: the image may lack what they say. */
  olderThan: string[];
  /** Whether the image holds the module; null when not listed (only listed when olderThan is not empty). */
  holds: boolean | null;
}

export interface ModprobeObserved {
  /** Every modprobe.d file, path → content. */
  modprobeFiles: Record<string, string>;
  /** Every modules-load.d file and /etc/modules. */
  loadFiles: Record<string, string>;
  /** The kernel supports loadable modules (/proc/modules exists). */
  loadable: boolean;
  live: ModuleLive;
  initramfs?: InitramfsObserved | null;
  /** The interface holding the address the SSH session came to, and its driver; read for state: blacklisted. */
  sessionNic?: { name: string; driver: string | null } | null;
  /** Interfaces that are up and whose device the module drives; read for state: blacklisted. */
  drivenNics?: string[];
}

type ModprobeChangeData =
  | { kind: 'options-file'; path: string }
  | { kind: 'load-file'; path: string; content: string | null }
  | { kind: 'load' | 'reload' | 'unload' }
  | { kind: 'initramfs' }
  | { kind: 'restore-file'; path: string; content: string | null };

/** What the initramfs finalizer needs: the image, the tools, and which modules to look for in it. */
interface InitramfsFinalizeData {
  image: string;
  tools: string[];
  module: string;
  /** true: the image is known to hold the module (or cannot be listed); false: list it first. */
  known: boolean;
}

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
        'A loaded module whose parameters differ: never (default) reports a pending reload; if-unused reloads it now when ' +
        'nothing uses it (use count 0, no device bound to its driver, no module holding it).',
    },
    allow_session_nic: {
      type: 'boolean',
      description:
        'state: blacklisted is refused for the driver of the NIC that carries the SSH session (the next boot would leave the host ' +
        'unreachable); true allows it, when another NIC with another driver will carry the management traffic.',
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
# Devices bound to the module's drivers: every entry of a driver directory but its control files.
for d in "/sys/module/$m/drivers/"*/; do
  [ -d "$d" ] || continue
  n=\${d%/}; n=\${n##*/}
  for e in "$d"*; do
    case \${e##*/} in bind|unbind|module|new_id|remove_id|uevent|'*') continue ;; esac
    [ -e "$e" ] && printf 'bound %s/%s\\n' "$n" "\${e##*/}"
  done
done
for h in "/sys/module/$m/holders/"*; do [ -e "$h" ] && printf 'holder %s\\n' "\${h##*/}"; done
true`;

// The initramfs of the running kernel (Debian's initrd.img-R, dracut's initramfs-R.img) and,
// when a configuration file of the module is newer than it, whether it holds the module: only
// then is the image listed (that decompresses it), so a converged host costs a stat.
const INITRAMFS_SCRIPT = `read -r r </proc/sys/kernel/osrelease
img=
for i in "/boot/initrd.img-$r" "/boot/initramfs-$r.img"; do [ -f "$i" ] && { img=$i; break; }; done
builtin=
[ -d "/sys/module/$m" ] && [ ! -e "/sys/module/$m/initstate" ] && [ ! -e "/sys/module/$m/refcnt" ] && builtin=1
if [ -n "$img" ] && [ -z "$builtin" ]; then
  printf 'initramfs %s\\n' "$img"
  for t in update-initramfs dracut lsinitramfs lsinitrd; do command -v "$t" >/dev/null 2>&1 && printf 'initramfs-tool %s\\n' "$t"; done
  p=$(printf %s "$m" | sed 's/[-_]/[-_]/g')
  older=$(for d in ${MODPROBE_DIRS.join(' ')}; do
    [ -d "$d" ] && find "$d" -maxdepth 1 -name '*.conf' -newer "$img" -exec grep -lE "^[[:space:]]*(options|blacklist|install|remove|softdep)[[:space:]]+$p([[:space:]]|\\$)" {} + 2>/dev/null
  done)
  if [ -n "$older" ]; then
    printf '%s\\n' "$older" | sed 's/^/initramfs-older-than /'
    l=
    if command -v lsinitramfs >/dev/null 2>&1; then l=lsinitramfs; elif command -v lsinitrd >/dev/null 2>&1; then l=lsinitrd; fi
    if [ -n "$l" ]; then
      if "$l" "$img" 2>/dev/null | grep -Eq "/$p[.]ko([.][a-z]+)?\\$"; then echo initramfs-holds; else echo initramfs-lacks; fi
    fi
  fi
fi
true`;

// The interface holding the address the SSH session reached ($SSH_CONNECTION: client, port,
// server address, port) with the module of its driver, and the interfaces that are up and driven
// by the module. sudo drops SSH_CONNECTION: then only the second part answers.
const SESSION_NIC_SCRIPT = `set -- \${SSH_CONNECTION:-}
a=\${3:-}; a=\${a#::ffff:}
if [ -n "$a" ]; then
  i=$(ip -o addr show 2>/dev/null | awk -v a="$a" '{ split($4, p, "/"); if (p[1] == a) { sub(/@.*/, "", $2); print $2; exit } }')
  [ -n "$i" ] && printf 'session-nic %s %s\\n' "$i" "$(readlink "/sys/class/net/$i/device/driver/module" 2>/dev/null | sed 's|.*/||')"
fi
for n in /sys/class/net/*; do
  [ "$(readlink "$n/device/driver/module" 2>/dev/null | sed 's|.*/||')" = "$m" ] || continue
  [ "$(cat "$n/operstate" 2>/dev/null)" = down ] || printf 'driven-nic %s\\n' "\${n##*/}"
done
true`;

/** One script for the live side; its output is what the parser fixtures capture. */
export function liveScript(module: string): string {
  return sh`m=${moduleKey(module)}` + '\n' + LIVE_SCRIPT;
}

/** The initramfs lines of the live script; null when there is no image (or the module is built in). */
export function parseInitramfs(stdout: string): InitramfsObserved | null {
  const lines = stdout.split('\n');
  const image = lines.find((l) => l.startsWith('initramfs /'))?.slice('initramfs '.length);
  if (!image) return null;
  const after = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  const holds = lines.includes('initramfs-holds') ? true : lines.includes('initramfs-lacks') ? false : null;
  return { image, tools: after('initramfs-tool '), olderThan: after('initramfs-older-than '), holds };
}

/** The session-NIC lines of the live script. */
export function parseSessionNic(stdout: string): Pick<ModprobeObserved, 'sessionNic' | 'drivenNics'> {
  const lines = stdout.split('\n');
  const session = /^session-nic (\S+) ?(\S*)$/.exec(lines.find((l) => l.startsWith('session-nic ')) ?? '');
  return {
    sessionNic: session ? { name: session[1], driver: session[2] || null } : null,
    drivenNics: lines.filter((l) => l.startsWith('driven-nic ')).map((l) => l.slice('driven-nic '.length)),
  };
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
  const after = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  return {
    loadable: lines.includes('loadable'),
    live: { state, refcnt: refcnt === undefined ? null : Number(refcnt), params, bound: after('bound '), holders: after('holder ') },
  };
}

/** The read script: live state, the initramfs, and for a blacklist the NIC the session uses. */
export function readScript(args: ModprobeArgs): string {
  const session = (args.state ?? 'present') === 'blacklisted' ? `\n${SESSION_NIC_SCRIPT}` : '';
  return `${liveScript(args.module)}\n${INITRAMFS_SCRIPT}${session}`;
}

function read(args: ModprobeArgs): ReadRequest[] {
  return [
    { kind: 'script', script: readScript(args) },
    ...MODPROBE_DIRS.map((dir): ReadRequest => ({ kind: 'glob', pattern: `${dir}/*.conf` })),
    ...MODULES_LOAD_DIRS.map((dir): ReadRequest => ({ kind: 'glob', pattern: `${dir}/*.conf` })),
    { kind: 'file', path: '/etc/modules' },
  ];
}

function parse(_args: ModprobeArgs, results: ReadResult[]): ModprobeObserved {
  const [live, ...rest] = results;
  const liveOut = live.kind === 'script' || live.kind === 'cmd' ? live.stdout : '';
  const globs = rest.filter((r): r is Extract<ReadResult, { kind: 'glob' }> => r.kind === 'glob');
  const modules = rest.find((r): r is Extract<ReadResult, { kind: 'file' }> => r.kind === 'file');
  const loadFiles = Object.assign({}, ...globs.slice(MODPROBE_DIRS.length).map((g) => g.files));
  if (modules?.content != null) loadFiles['/etc/modules'] = modules.content;
  return {
    modprobeFiles: Object.assign({}, ...globs.slice(0, MODPROBE_DIRS.length).map((g) => g.files)),
    loadFiles,
    ...parseLive(liveOut),
    initramfs: parseInitramfs(liveOut),
    ...parseSessionNic(liveOut),
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
  const warnings: string[] = state === 'present' ? riskyModuleOptions(module, args.options ?? {}) : [];

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

  if (state === 'blacklisted') warnings.push(...sessionNicCheck(args, observed, ctx));

  const path = optionsPath(args);
  const before = observed.modprobeFiles[path] ?? null;
  const after = editModprobeFile(before, editOf(args));
  const initramfs = initramfsPlan(args, observed, after !== before);
  if (initramfs.warning) warnings.push(initramfs.warning);
  if (after !== before) {
    changes.push({
      summary:
        `${state === 'present' ? 'persist options of' : state === 'blacklisted' ? 'blacklist' : 'remove configuration of'} ${module} in ${path}` +
        (initramfs.finalize ? `, then ${initramfs.summary}` : ''),
      target: path,
      effect: 'persistent',
      diff: { path, before, after },
      data: { kind: 'options-file', path } satisfies ModprobeChangeData,
      ...(initramfs.finalize ? { finalize: initramfs.finalize } : {}),
    });
  } else if (initramfs.finalize) {
    // The configuration was changed before and the image not regenerated since (an interrupted
    // or failed regeneration): compared, not remembered.
    const image = observed.initramfs!.image;
    changes.push({
      summary: `${initramfs.summary}: it is older than ${observed.initramfs!.olderThan.join(', ')}`,
      target: image,
      effect: 'persistent',
      before: `without the configuration of ${module} in ${observed.initramfs!.olderThan.join(', ')}`,
      after: 'regenerated',
      data: { kind: 'initramfs' } satisfies ModprobeChangeData,
      finalize: initramfs.finalize,
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
  // A NIC driver carrying traffic has a use count of 0: a bound device or a holder is a use too.
  const users = [...(live.bound ?? []).map((b) => `bound to ${b}`), ...(live.holders ?? []).map((h) => `held by ${h}`)];
  const unused = args.reload === 'if-unused' && live.refcnt === 0 && users.length === 0;
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
      const why = users.length ? `in use (${users.join(', ')})` : live.refcnt ? `in use (${live.refcnt})` : 'loaded';
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
    if (unused && state === 'blacklisted' && sessionDriven(args, observed, ctx))
      pending.push({
        effect: 'reboot',
        target: `module:${module}`,
        summary: `${module} drives the NIC of this SSH session: it is not unloaded now; the blacklist applies from the next boot`,
      });
    else if (unused)
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
        summary: `${module} is loaded${users.length ? ` (${users.join(', ')})` : ''}; the blacklist applies from the next boot`,
      });
  } else if (state === 'blacklisted' && live.state === 'builtin') {
    warnings.push(`${module} is built into this kernel: a blacklist cannot stop it`);
  }
  // The JSON report keeps warnings per change: attach them to the first one when there is one.
  if (changes.length && warnings.length) changes[0] = { ...changes[0], warnings };
  return { changes, pending, warnings: changes.length ? [] : warnings };
}

/** The driver of the session's NIC: the facts' NIC of that name, else what the host's sysfs says. */
function sessionDriver(observed: ModprobeObserved, ctx: PlanContext): string | null {
  const nic = observed.sessionNic;
  if (!nic) return null;
  return ctx.facts.nics?.find((n) => n.name === nic.name)?.driver ?? nic.driver;
}

function sessionDriven(args: ModprobeArgs, observed: ModprobeObserved, ctx: PlanContext): boolean {
  const driver = sessionDriver(observed, ctx);
  return driver !== null && moduleKey(driver) === moduleKey(args.module);
}

/**
 * A blacklisted NIC driver is not loaded at the next boot: if it drives the NIC this session came
 * in on, the host comes back unreachable. Refused unless allow_session_nic; other NICs it drives are
 * a warning.
 */
function sessionNicCheck(args: ModprobeArgs, observed: ModprobeObserved, ctx: PlanContext): string[] {
  const key = moduleKey(args.module);
  const nic = observed.sessionNic ?? null;
  const fromFacts = (ctx.facts.nics ?? []).filter((n) => n.driver !== null && moduleKey(n.driver) === key).map((n) => n.name);
  const driven = [...new Set([...(observed.drivenNics ?? []), ...fromFacts])];
  const override = 'set allow_session_nic: true only when another NIC with another driver carries the management traffic';
  if (!args.allow_session_nic) {
    if (nic && sessionDriven(args, observed, ctx)) {
      throw new TaskError(
        `${ctx.host}: ${args.module} drives ${nic.name}, the NIC that carries this SSH session: blacklisted, the next boot leaves ` +
          `the host unreachable over it; ${override}`,
      );
    }
    if (!nic && observed.sessionNic === null && driven.length) {
      throw new TaskError(
        `${ctx.host}: ${args.module} drives ${driven.join(', ')}, and hvtune cannot tell which NIC carries this SSH session ` +
          `(no SSH_CONNECTION on the host, as under sudo): blacklisted, the next boot may leave the host unreachable; ${override}`,
      );
    }
  }
  const others = driven.filter((n) => n !== nic?.name);
  return [
    ...(args.allow_session_nic && nic && sessionDriven(args, observed, ctx)
      ? [`${args.module} drives ${nic.name}, the NIC of this SSH session: after the next boot the host is reachable only over other NICs`]
      : []),
    ...(others.length ? [`${args.module} drives ${others.join(', ')}: blacklisted, they have no driver after the next boot`] : []),
  ];
}

const REGENERATORS = ['update-initramfs', 'dracut'];
const LISTERS = ['lsinitramfs', 'lsinitrd'];

/**
 * Whether this task's modprobe.d change must be followed by a regeneration of the initramfs
 * (the image holds the module, so the boot loads it from there with the image's copy of the
 * configuration), and the finalizer that does it once per host.
 */
function initramfsPlan(
  args: ModprobeArgs,
  observed: ModprobeObserved,
  fileChanges: boolean,
): { finalize?: Change['finalize']; summary?: string; warning?: string } {
  const image = observed.initramfs;
  if (!image || observed.live.state === 'builtin') return {};
  const regenerator = REGENERATORS.find((t) => image.tools.includes(t));
  const canList = LISTERS.some((t) => image.tools.includes(t));
  // Without a listing tool the image may hold the module: regenerate (cheap to do, costly to miss).
  const known = image.holds === true || !canList;
  const stale = image.olderThan.length > 0 && image.holds !== false && known;
  if (!fileChanges && !stale) return {};
  if (!regenerator) {
    return {
      warning:
        `${image.image} may hold ${args.module} with its older configuration, and neither update-initramfs nor dracut is on the ` +
        'host to regenerate it: the boot may load it without this change',
    };
  }
  const data: InitramfsFinalizeData = { image: image.image, tools: image.tools, module: args.module, known };
  const command = regenerator === 'update-initramfs' ? 'update-initramfs -u' : 'dracut -f';
  return {
    finalize: { id: 'initramfs', data },
    summary: known
      ? `regenerate ${image.image} (${command}), which holds ${args.module}`
      : `regenerate ${image.image} (${command}) if it holds ${args.module}`,
  };
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

/** Regenerate the initramfs once for every task whose module it holds (or may hold). */
async function finalize(_id: string, items: { change: Change; data?: unknown }[], host: HostHandle): Promise<void> {
  const data = items.map((i) => i.data as InitramfsFinalizeData);
  const { image, tools } = data[0];
  const lister = LISTERS.find((t) => tools.includes(t));
  let holding = data.filter((d) => d.known).map((d) => d.module);
  if (holding.length === 0 && lister) {
    const listing = await host.exec([lister, image], { timeoutMs: 120_000 });
    if (listing.code !== 0) holding = data.map((d) => d.module);
    else {
      // lib/modules/6.1.0-18-amd64/kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko(.xz|.zst)
      const inImage = new Set(
        listing.stdout
          .split('\n')
          .flatMap((l) => /\/([^/]+)\.ko(\.[a-z]+)?$/.exec(l.trim())?.[1] ?? [])
          .map(moduleKey),
      );
      holding = data.map((d) => d.module).filter((m) => inImage.has(moduleKey(m)));
    }
  }
  if (holding.length === 0) return;
  const release = host.facts.kernel.release;
  const argv = tools.includes('update-initramfs') ? ['update-initramfs', '-u', '-k', release] : ['dracut', '-f', image, release];
  const result = await host.exec(argv, { timeoutMs: 600_000 });
  if (result.code !== 0) {
    throw new TaskError(
      `${host.name}: cannot regenerate ${image} for ${[...new Set(holding)].join(', ')}: ${joinArgv(argv)} failed with exit code ${result.code}` +
        `:\n${(result.stderr || result.stdout).trimEnd()}\n/etc/modprobe.d keeps the change; the next run regenerates again, the image being older than it`,
    );
  }
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
    } else if (d.kind === 'restore-file') {
      if (d.content === null) await host.removeFile(d.path, { backup: false });
      else await host.writeFile(d.path, d.content, { mode: 0o644 });
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

/**
 * Rollback of a modprobe.d change the initramfs followed: the file goes back to its before, and the
 * initramfs is regenerated again (the engine's own file restore would leave the image with the
 * run's configuration). Other file changes are restored by the engine from their diffs.
 */
function restore(change: Change): Change | null {
  const data = change.data as ModprobeChangeData | undefined;
  if (data?.kind !== 'options-file' || !change.diff || !change.finalize) return null;
  return {
    summary: `restore ${data.path}`,
    target: change.target,
    effect: 'persistent',
    diff: { path: data.path, before: change.diff.after, after: change.diff.before },
    data: { kind: 'restore-file', path: data.path, content: change.diff.before } satisfies ModprobeChangeData,
    finalize: change.finalize,
  };
}

export const modprobe = {
  name: 'modprobe',
  description: 'Kernel module options (/etc/modprobe.d), loading at boot (/etc/modules-load.d) and live parameters (/sys/module).',
  schema,
  validate,
  advise: adviseOnModuleOptions,
  read,
  parse,
  plan,
  apply,
  finalize,
  restore,
} satisfies Module<ModprobeArgs, ModprobeObserved>;

export default modprobe;
