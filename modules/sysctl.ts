// sysctl: kernel parameters, live (/proc/sys) and persisted (a sysctl.d file), kept apart.

import type { Change, HostHandle, Module, PlanContext, ReadRequest, ReadResult, SettingState } from '../src/module.js';
import { ApplyVerifyError, RemoteCommandError, TaskError } from '../src/errors.js';
import { sh } from '../src/quote.js';
import { SYSCTL_DIRS, bootValues, keyToProcPath, normaliseSysctlValue, updateSysctlConf } from './lib/sysctl-conf.js';
import { INTEGER_TUPLES, missingKeyHint } from './lib/sysctl-keys.js';
import { hugepagePoolMemory } from './lib/cross/hugepage-pool-memory.js';
import { sysctlMaxLowered } from './lib/cross/sysctl-max-lowered.js';
import { loweredKernelLimit, riskySysctl } from './lib/risky-settings.js';

type Value = string | number | number[];

export interface SysctlArgs {
  values: Record<string, Value>;
  file?: string;
  only_raise?: boolean;
}

export interface SysctlObserved {
  keys: Record<string, { live: string | null; writable: boolean }>;
  file: { path: string; content: string | null };
  /** every sysctl.d / sysctl.conf file on the host, path → content */
  bootFiles: Record<string, string>;
  /** tcp_available_congestion_control, when a playbook sets the congestion control */
  availableCongestion: string[] | null;
}

type SysctlChangeData = { kind: 'live'; key: string; path: string; value: string } | { kind: 'file'; path: string; content: string };

export const DEFAULT_FILE = '/etc/sysctl.d/90-hvtune.conf';
const CONGESTION_KEY = 'net.ipv4.tcp_congestion_control';
const AVAILABLE_CONGESTION = '/proc/sys/net/ipv4/tcp_available_congestion_control';

// A key is dotted words; `/` may stand for a dot inside an interface name (eth0/100). No `..`.
const KEY_PATTERN = '^[a-z][a-z0-9_]*([./][A-Za-z0-9_:@+-]+)+$';
const tupleSchema = (n: number) => ({
  anyOf: [
    { type: 'string', pattern: `^\\s*[+-]?\\d+(\\s+[+-]?\\d+){${n - 1}}\\s*$` },
    { type: 'array', items: { type: 'integer' }, minItems: n, maxItems: n },
  ],
  'x-message': `must be ${n} integers`,
});

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['values'],
  properties: {
    values: {
      type: 'object',
      description:
        'Kernel parameters to set, key → value. Multi-integer values (tcp_rmem) may be a string ' +
        '("4096 87380 33554432") or a list of integers; they are compared as integers, whatever the whitespace.',
      minProperties: 1,
      propertyNames: { pattern: KEY_PATTERN, 'x-message': 'must be a sysctl key such as net.ipv4.tcp_rmem' },
      properties: Object.fromEntries(Object.entries(INTEGER_TUPLES).map(([k, n]) => [k, tupleSchema(n)])),
      additionalProperties: {
        anyOf: [
          { type: 'integer' },
          { type: 'string', pattern: '^[^\\n\\r]+$' },
          { type: 'array', items: { type: 'integer' }, minItems: 1 },
        ],
        'x-message': 'must be an integer, a one-line string, or a list of integers',
      },
    },
    file: {
      type: 'string',
      description: `The sysctl.d file that persists the values (default ${DEFAULT_FILE}). Other keys and comments in it are kept.`,
      pattern: '^(/etc/sysctl\\.d/[A-Za-z0-9_.@-]+\\.conf|/etc/sysctl\\.conf)$',
      'x-message': 'must be /etc/sysctl.d/NAME.conf or /etc/sysctl.conf',
    },
    only_raise: {
      type: 'boolean',
      description:
        'Each value is a floor (integers only): a key whose live value is already higher is left as it is, live and ' +
        'in the file, so a limit the kernel sized for this host (fs.file-max) is never lowered. Default false.',
    },
  },
} as const;

function validate(args: SysctlArgs) {
  if (!args.only_raise) return [];
  return Object.entries(args.values)
    .filter(([, v]) => !/^\s*\d+\s*$/.test(String(v)))
    .map(([key]) => ({ path: `values.${key}`, message: 'only_raise takes one non-negative integer per key' }));
}

/** With only_raise, the keys whose live value already is at least the desired one: left alone. */
function alreadyHigher(args: SysctlArgs, observed: SysctlObserved): Set<string> {
  const keep = new Set<string>();
  if (!args.only_raise) return keep;
  for (const [key, value] of desiredValues(args)) {
    const live = observed.keys[key]?.live;
    if (live != null && /^\d+$/.test(live.trim()) && BigInt(live.trim()) >= BigInt(value)) keep.add(key);
  }
  return keep;
}

function desiredValues(args: SysctlArgs): Map<string, string> {
  return new Map(Object.entries(args.values).map(([k, v]) => [k, normaliseSysctlValue(v)]));
}

function read(args: SysctlArgs): ReadRequest[] {
  const keys = Object.keys(args.values);
  const paths = keys.map(keyToProcPath);
  const requests: ReadRequest[] = [
    // One line per key: '-' absent, 'w' writable, 'r' read-only (procfs honours the mode for root).
    {
      kind: 'script',
      script: sh`for p in ${paths}; do if [ ! -e "$p" ]; then echo -; elif [ -w "$p" ]; then echo w; else echo r; fi; done`,
      stable: true,
      builtins: true,
    },
    ...paths.map((path): ReadRequest => ({ kind: 'file', path })),
    { kind: 'file', path: args.file ?? DEFAULT_FILE },
    ...SYSCTL_DIRS.map((dir): ReadRequest => ({ kind: 'glob', pattern: `${dir}/*.conf` })),
    { kind: 'file', path: '/etc/sysctl.conf' },
  ];
  if (CONGESTION_KEY in args.values) requests.push({ kind: 'file', path: AVAILABLE_CONGESTION });
  return requests;
}

function parse(args: SysctlArgs, results: ReadResult[]): SysctlObserved {
  const keys = Object.keys(args.values);
  const [access, ...rest] = results;
  const flags = access.kind === 'script' ? access.stdout.split('\n') : [];
  const observed: SysctlObserved = {
    keys: {},
    file: { path: args.file ?? DEFAULT_FILE, content: null },
    bootFiles: {},
    availableCongestion: null,
  };
  keys.forEach((key, i) => {
    const r = rest[i];
    const live = r.kind === 'file' && r.content !== null ? r.content.replace(/\n$/, '') : null;
    observed.keys[key] = { live: flags[i] === '-' ? null : live, writable: flags[i] === 'w' };
  });
  const after = rest.slice(keys.length);
  const own = after[0];
  if (own.kind === 'file') observed.file.content = own.content;
  for (const r of after.slice(1)) {
    if (r.kind === 'glob') Object.assign(observed.bootFiles, r.files);
    if (r.kind === 'file' && r.path === '/etc/sysctl.conf' && r.content !== null) observed.bootFiles[r.path] = r.content;
    if (r.kind === 'file' && r.path === AVAILABLE_CONGESTION && r.content !== null) {
      observed.availableCongestion = r.content.trim().split(/\s+/);
    }
  }
  return observed;
}

function plan(args: SysctlArgs, observed: SysctlObserved, ctx: PlanContext) {
  const desired = desiredValues(args);
  // Never written lower than the kernel has it: not live, and not in the file, which would lower it at boot.
  for (const key of alreadyHigher(args, observed)) desired.delete(key);
  const kernel = ctx.facts.kernel;
  const problems: string[] = [];
  const changes: Change[] = [];
  const warnings: string[] = [];

  for (const [key, value] of desired) {
    const risky = riskySysctl(key, value);
    if (risky) warnings.push(risky);
    const { live, writable } = observed.keys[key] ?? { live: null, writable: false };
    if (live === null) {
      problems.push(`${key} does not exist on Linux ${kernel.release}: ${missingKeyHint(key, kernel.version)}`);
      continue;
    }
    if (key === CONGESTION_KEY && observed.availableCongestion && !observed.availableCongestion.includes(value)) {
      problems.push(
        `${key}=${value} is not available (available: ${observed.availableCongestion.join(', ')}); ` +
          `load tcp_${value} first (modprobe module with load: boot)`,
      );
      continue;
    }
    if (normaliseSysctlValue(live) === value) continue;
    const lowered = loweredKernelLimit(key, normaliseSysctlValue(live), value);
    if (lowered) warnings.push(lowered);
    if (!writable) {
      problems.push(`${key} is read-only on this host (Linux ${kernel.release}); in a network namespace set it on the host itself`);
      continue;
    }
    changes.push({
      summary: `set ${key}`,
      target: `sysctl:${key}`,
      effect: 'live',
      before: normaliseSysctlValue(live),
      after: value,
      data: { kind: 'live', key, path: keyToProcPath(key), value } satisfies SysctlChangeData,
    });
  }
  if (problems.length) throw new TaskError(`${ctx.host}: ${problems.join('; ')}`);

  const { path, content } = observed.file;
  const next = desired.size === 0 ? content : updateSysctlConf(content, desired);
  if (next !== null && next !== content) {
    changes.push({
      summary: `persist ${desired.size === 1 ? [...desired.keys()][0] : `${desired.size} keys`} in ${path}`,
      target: path,
      effect: 'persistent',
      diff: { path, before: content, after: next },
      data: { kind: 'file', path, content: next } satisfies SysctlChangeData,
    });
  }

  // A file applied later at boot that sets the key differently wins: the value would not survive a reboot.
  const atBoot = bootValues(next === null ? observed.bootFiles : { ...observed.bootFiles, [path]: next });
  for (const [key, value] of desired) {
    const winner = atBoot.get(key);
    if (winner && winner.file !== path && normaliseSysctlValue(winner.value) !== value) {
      warnings.push(
        `${key}: ${winner.file} sets ${winner.value} and is applied after ${path} at boot, so ${value} would not survive a reboot`,
      );
    }
  }
  return { changes, warnings };
}

async function apply(changes: Change[], host: HostHandle): Promise<void> {
  const data = changes.map((c) => c.data as SysctlChangeData);
  const fileChange = data.find((d) => d.kind === 'file') as Extract<SysctlChangeData, { kind: 'file' }> | undefined;
  const live = data.filter((d): d is Extract<SysctlChangeData, { kind: 'live' }> => d.kind === 'live');

  const written = fileChange ? await host.writeFile(fileChange.path, fileChange.content, { mode: 0o644 }) : null;
  if (live.length === 0) return;
  try {
    await setAndVerify(host, live);
  } catch (err) {
    // Keep the persisted file consistent with what the kernel accepted.
    if (fileChange && written) await host.restoreFile(fileChange.path, written.backup);
    throw err;
  }
}

/**
 * Set every live value and read them all back, in one round trip and two processes: one
 * `sysctl -w` for every key (it goes on past a refused key and names it on stderr), then one
 * `grep -H` printing `path:value` for every key's file (a sysctl value is one line).
 */
async function setAndVerify(host: HostHandle, live: { key: string; path: string; value: string }[]) {
  const assignments = live.map(({ key, value }) => `${key}=${value}`);
  const paths = live.map(({ path }) => path);
  const result = await host.sh(sh`sysctl -q -w ${assignments} >&2; grep -H '' -- ${paths}; echo ::hvtune:: done`, { session: true });
  if (!result.stdout.includes('::hvtune:: done')) {
    throw new RemoteCommandError(host.name, 'sysctl -w …', result.code, result.stderr, result.stdout);
  }
  const lines = result.stdout.split('\n');
  for (const { key, path, value } of live) {
    const line = lines.find((l) => l.startsWith(`${path}:`));
    const actual = normaliseSysctlValue(line === undefined ? '' : line.slice(path.length + 1));
    // procps: `sysctl: setting key "net.core.x": Invalid argument`; busybox: `sysctl: error setting key 'net.core.x': …`
    const refused = result.stderr.split('\n').find((l) => l.includes(`"${key}"`) || l.includes(`'${key}'`));
    if (actual !== value) throw new ApplyVerifyError(host.name, key, value, actual, refused?.trim());
  }
}

/** Desired, persisted (what the boot files give) and live value of every key of the task. */
function snapshot(args: SysctlArgs, observed: SysctlObserved): Record<string, SettingState> {
  const files = { ...observed.bootFiles };
  if (observed.file.content !== null) files[observed.file.path] = observed.file.content;
  else delete files[observed.file.path];
  const atBoot = bootValues(files);
  const states: Record<string, SettingState> = {};
  const higher = alreadyHigher(args, observed);
  for (const [key, wanted] of desiredValues(args)) {
    const live = observed.keys[key]?.live ?? null;
    // a floor already exceeded is met: what is there is what is desired
    const desired = higher.has(key) && live !== null ? normaliseSysctlValue(live) : wanted;
    const persisted = atBoot.get(key)?.value ?? null;
    states[key] = {
      desired,
      persisted: persisted === null ? null : normaliseSysctlValue(persisted),
      live: live === null ? null : normaliseSysctlValue(live),
    };
  }
  return states;
}

/** A live value goes back to its before; the file is restored by the engine from its diff. */
function restore(change: Change): Change | null {
  const data = change.data as SysctlChangeData | undefined;
  if (data?.kind !== 'live' || change.before === null || change.before === undefined) return null;
  return {
    summary: `restore ${data.key}`,
    target: change.target,
    effect: 'live',
    before: change.after ?? null,
    after: change.before,
    data: { ...data, value: change.before } satisfies SysctlChangeData,
  };
}

export const sysctl = {
  name: 'sysctl',
  description: 'Kernel parameters: live values in /proc/sys and their persistence in a sysctl.d file.',
  schema,
  validate,
  read,
  parse,
  plan,
  apply,
  snapshot,
  restore,
  crossChecks: [sysctlMaxLowered, hugepagePoolMemory],
} satisfies Module<SysctlArgs, SysctlObserved>;

export default sysctl;
