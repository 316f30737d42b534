// grub_cmdline: kernel command-line arguments persisted in /etc/default/grub (a set: `key=value`
// replaces that key, flags are members), live in /proc/cmdline. Persisted but not live = reboot.
// The boot config is regenerated once per host per run (finalize), with the tool the host uses.

import type { Advice, ArgLeaf, Change, HostHandle, Module, Pending, PlanContext, ReadRequest, ReadResult } from '../src/module.js';
import { ELEVATOR, OLD_SCHEDULER } from '../src/dated.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { joinArgv } from '../src/quote.js';
import {
  type GrubAssignment,
  SELF_REF,
  appendAssignment,
  argKey,
  baseIndex,
  cmdlineSet,
  datedWarning,
  editChain,
  effectiveArgs,
  findAssignments,
  rewriteFile,
  securityWarning,
  setHas,
  setHasAbsent,
  splitCmdline,
} from './lib/cmdline.js';
import { hugepagePoolMemory } from './lib/cross/hugepage-pool-memory.js';

type Variable = 'GRUB_CMDLINE_LINUX' | 'GRUB_CMDLINE_LINUX_DEFAULT';

export interface GrubCmdlineArgs {
  present?: string[];
  absent?: string[];
  variable?: Variable;
}

/** How this host turns /etc/default/grub into its boot configuration. */
export type BootTool =
  | { kind: 'grubby' }
  | { kind: 'update-grub' }
  | { kind: 'mkconfig'; command: string; output: string }
  | { kind: 'none' };

export interface GrubCmdlineObserved {
  /** /etc/default/grub then /etc/default/grub.d/*.cfg (sorted), path → content; null main = missing. */
  main: string | null;
  dropIns: Record<string, string>;
  /** /proc/cmdline, null when unreadable. */
  live: string | null;
  boot: BootTool;
  /**
   * The arguments of the default (first) kernel line of the boot config the tool writes: a
   * regeneration that never ran (interrupted update-grub) shows here. Absent when unknown (BLS).
   */
  bootConfig?: { path: string; args: string[] } | null;
}

/** What apply writes: the whole new content of one file, as planned; or nothing, only the regeneration. */
type ChangeData = { path: string; content: string } | { regenerate: string };

interface FinalizeData {
  tool: BootTool;
  present: string[];
  absent: string[];
  /** The file's content before this run, restored when regeneration fails (none: no file changed). */
  restore: { path: string; content: string } | null;
}

export const MAIN_FILE = '/etc/default/grub';
const DROP_IN_GLOB = '/etc/default/grub.d/*.cfg';
const FINALIZE_ID = 'boot-config';

// A kernel argument: a key of plain characters, optionally `=value` (no quotes, no shell syntax).
const ARG_PATTERN = '^[A-Za-z0-9_.-]{1,64}(=[A-Za-z0-9_.,:/+@%=-]{1,256})?$';

const argList = (description: string) => ({
  type: 'array',
  description,
  items: {
    type: 'string',
    pattern: ARG_PATTERN,
    'x-message': 'must be a kernel argument: a flag (quiet) or key=value (hugepagesz=1G), no spaces or quotes',
  },
  uniqueItems: true,
});

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    present: argList(
      'Arguments the kernel command line must have. key=value replaces any other value of that key ' +
        '(never a duplicate); a bare flag is added once.',
    ),
    absent: argList(
      'Arguments to remove: a key (any value, and the bare flag) or key=value (only that value), from whichever ' +
        'variable holds them (the plan says where).',
    ),
    variable: {
      type: 'string',
      enum: ['GRUB_CMDLINE_LINUX', 'GRUB_CMDLINE_LINUX_DEFAULT'],
      description:
        'The /etc/default/grub variable to edit (default GRUB_CMDLINE_LINUX: every boot entry, recovery included; ' +
        '_DEFAULT: normal entries only).',
    },
  },
} as const;

function validate(args: GrubCmdlineArgs) {
  const problems: { path: string; message: string }[] = [];
  if (!args.present?.length && !args.absent?.length) problems.push({ path: 'present', message: 'needs present and/or absent' });
  const keys = new Map<string, string>();
  for (const arg of args.present ?? []) {
    const other = keys.get(argKey(arg));
    if (other) problems.push({ path: 'present', message: `${other} and ${arg} set the same key; keep one` });
    keys.set(argKey(arg), arg);
  }
  for (const spec of args.absent ?? []) {
    const clash = (args.present ?? []).find((p) => argKey(p) === argKey(spec) && (!spec.includes('=') || p === spec));
    if (clash) problems.push({ path: 'absent', message: `${spec} contradicts present ${clash}` });
  }
  return problems;
}

/**
 * Only what the command line gets is advice (removing elevator= is the fix), and there a bare
 * `elevator` flag is as dated as `elevator=…`.
 */
function advise(leaf: ArgLeaf, _args: GrubCmdlineArgs, generic: Advice[]): Advice[] {
  const added = leaf.path[0] === 'present';
  const kept = generic.filter((a) => a.id !== ELEVATOR.id && (added || a.id !== OLD_SCHEDULER.id));
  return added && /^elevator(=|$)/.test(leaf.text) ? [...kept, ELEVATOR] : kept;
}

// Which tool regenerates the boot config, decided from what exists on the host (no user input).
const BOOT_SCRIPT = [
  'for t in grubby update-grub grub2-mkconfig grub-mkconfig; do command -v "$t" >/dev/null 2>&1 && echo "tool $t"; done',
  '[ -d /sys/firmware/efi ] && echo efi',
  'ls /boot/loader/entries 2>/dev/null | grep -q "\\.conf$" && echo bls',
  'for f in /boot/grub2/grub.cfg /boot/grub/grub.cfg /boot/efi/EFI/*/grub.cfg; do',
  '  [ -f "$f" ] || continue',
  '  if grep -qs "^[[:space:]]*configfile" "$f"; then echo "stub $f"; continue; fi',
  '  echo "cfg $f"',
  '  grep -E "^[[:space:]]*linux(efi|16)?[[:space:]]" "$f" | head -n 1 | sed "s|^|kernel $f |"',
  'done',
  'true',
].join('\n');

/** Pick the regeneration tool from the boot script's output. */
export function parseBootTool(stdout: string): BootTool {
  const lines = stdout.split('\n').map((l) => l.trim());
  const tools = new Set(lines.filter((l) => l.startsWith('tool ')).map((l) => l.slice(5)));
  const configs = lines.filter((l) => l.startsWith('cfg ')).map((l) => l.slice(4));
  const efi = lines.includes('efi');
  if (lines.includes('bls') && tools.has('grubby')) return { kind: 'grubby' };
  if (tools.has('update-grub')) return { kind: 'update-grub' };
  const command = tools.has('grub2-mkconfig') ? 'grub2-mkconfig' : tools.has('grub-mkconfig') ? 'grub-mkconfig' : null;
  if (!command) return { kind: 'none' };
  // UEFI hosts of older Red Hat releases keep the real config on the ESP; newer ones chain-load
  // /boot/grub2/grub.cfg from a stub there.
  const esp = configs.find((c) => c.startsWith('/boot/efi/'));
  const bios = configs.find((c) => !c.startsWith('/boot/efi/'));
  const fallback = command === 'grub2-mkconfig' ? '/boot/grub2/grub.cfg' : '/boot/grub/grub.cfg';
  return { kind: 'mkconfig', command, output: (efi && esp) || bios || fallback };
}

/** The default kernel line of the config `tool` writes, from the boot script's output. */
export function parseBootConfig(stdout: string, tool: BootTool): { path: string; args: string[] } | null {
  const path = tool.kind === 'update-grub' ? '/boot/grub/grub.cfg' : tool.kind === 'mkconfig' ? tool.output : null;
  if (path === null) return null;
  const line = stdout.split('\n').find((l) => l.startsWith(`kernel ${path} `));
  if (!line) return null;
  // "linux /boot/vmlinuz-6.1.0 root=UUID=… ro quiet": the arguments after the kernel image
  const words = line.slice(`kernel ${path} `.length).trim().split(/\s+/);
  return { path, args: words.slice(2) };
}

function read(): ReadRequest[] {
  return [
    { kind: 'file', path: MAIN_FILE },
    { kind: 'glob', pattern: DROP_IN_GLOB },
    { kind: 'file', path: '/proc/cmdline' },
    { kind: 'script', script: BOOT_SCRIPT },
  ];
}

function parse(_args: GrubCmdlineArgs, results: ReadResult[]): GrubCmdlineObserved {
  const [main, dropIns, live, boot] = results;
  const bootOut = boot.kind === 'script' || boot.kind === 'cmd' ? boot.stdout : '';
  const tool: BootTool = bootOut ? parseBootTool(bootOut) : { kind: 'none' };
  return {
    main: main.kind === 'file' ? main.content : null,
    dropIns: dropIns.kind === 'glob' ? dropIns.files : {},
    live: live.kind === 'file' ? live.content : null,
    boot: tool,
    bootConfig: parseBootConfig(bootOut, tool),
  };
}

function chainOf(files: Record<string, string>, variable: string): GrubAssignment[] {
  return Object.keys(files).flatMap((path) => findAssignments(path, files[path], variable));
}

/** The files in the order update-grub sources them. */
function sourced(observed: Pick<GrubCmdlineObserved, 'main' | 'dropIns'>): Record<string, string> {
  const files: Record<string, string> = { [MAIN_FILE]: observed.main ?? '' };
  for (const path of Object.keys(observed.dropIns).sort()) files[path] = observed.dropIns[path];
  return files;
}

/** The edit, pure: new file contents plus notes. */
export function editGrubFiles(args: GrubCmdlineArgs, files: Record<string, string>) {
  const variable = args.variable ?? 'GRUB_CMDLINE_LINUX';
  const notes: string[] = [];
  const next = { ...files };
  let chain: GrubAssignment[];
  try {
    chain = chainOf(next, variable);
    if (chain.length === 0) {
      next[MAIN_FILE] = appendAssignment(next[MAIN_FILE], variable, []);
      chain = chainOf(next, variable);
    }
  } catch (err) {
    throw new TaskError((err as Error).message);
  }
  const base = baseIndex(chain);
  if (base > 0) {
    const dead = chain
      .slice(0, base)
      .map((a) => `${a.file}:${a.line}`)
      .join(', ');
    notes.push(`${variable} set at ${dead} is overridden by ${chain[base].file}:${chain[base].line}, which hvtune edits`);
  }
  if (chain[base].file !== MAIN_FILE) {
    notes.push(`${chain[base].file} is sourced after ${MAIN_FILE} and decides ${variable}: hvtune edits it there`);
  }
  rewriteChain(next, chain, editChain(chain, args.present ?? [], args.absent ?? []), variable);
  const removedElsewhere = removeFromOther(next, variable, args.absent ?? []);
  return { files: next, notes, removedElsewhere };
}

function rewriteChain(files: Record<string, string>, chain: GrubAssignment[], edited: string[][], variable: string): void {
  for (const path of Object.keys(files)) {
    const edits = chain
      .map((assignment, i) => ({ assignment, args: edited[i] }))
      .filter((e) => e.assignment.file === path && e.args.join(' ') !== e.assignment.args.join(' '));
    if (edits.length) files[path] = rewriteFile(files[path], edits, variable);
  }
}

const otherVariable = (variable: Variable): Variable =>
  variable === 'GRUB_CMDLINE_LINUX' ? 'GRUB_CMDLINE_LINUX_DEFAULT' : 'GRUB_CMDLINE_LINUX';

/**
 * `absent` means gone from the boot line, which is both variables: an argument the other variable
 * holds (Debian's stock `quiet` in GRUB_CMDLINE_LINUX_DEFAULT) is removed where it is. Returns
 * where. An other variable hvtune cannot follow is left as it
 * is: plan() reports it.
 */
interface RemovedElsewhere {
  arg: string;
  variable: Variable;
  file: string;
  line: number;
}

function removeFromOther(files: Record<string, string>, variable: Variable, absent: readonly string[]): RemovedElsewhere[] {
  if (absent.length === 0) return [];
  const other = otherVariable(variable);
  let chain: GrubAssignment[];
  try {
    chain = chainOf(files, other);
  } catch {
    return [];
  }
  const edited = editChain(chain, [], absent);
  const where: RemovedElsewhere[] = [];
  chain.forEach((assignment, i) => {
    const removed = assignment.args.filter((arg) => arg !== SELF_REF && !edited[i].includes(arg));
    for (const arg of removed) where.push({ arg, variable: other, file: assignment.file, line: assignment.line });
  });
  rewriteChain(files, chain, edited, other);
  return where;
}

/** The arguments a normal boot entry gets: GRUB_CMDLINE_LINUX then GRUB_CMDLINE_LINUX_DEFAULT. */
function bootArgs(files: Record<string, string>): string[] {
  const part = (v: string) => {
    try {
      return effectiveArgs(chainOf(files, v));
    } catch {
      return [];
    }
  };
  return [...part('GRUB_CMDLINE_LINUX'), ...part('GRUB_CMDLINE_LINUX_DEFAULT')];
}

/** What of `args` a command line does not satisfy, as readable items. */
function unmet(args: GrubCmdlineArgs, cmdline: string[]): string[] {
  const set = cmdlineSet(cmdline);
  return [
    ...(args.present ?? []).filter((a) => !setHas(set, a)),
    ...(args.absent ?? []).filter((s) => setHasAbsent(set, s)).map((s) => `no ${s}`),
  ];
}

function plan(args: GrubCmdlineArgs, observed: GrubCmdlineObserved, ctx: PlanContext) {
  if (observed.main === null) {
    throw new TaskError(`${ctx.host}: ${MAIN_FILE} does not exist; this host does not boot with GRUB's defaults file`);
  }
  const variable = args.variable ?? 'GRUB_CMDLINE_LINUX';
  const before = sourced(observed);
  const { files: after, notes, removedElsewhere } = editGrubFiles(args, before);

  const other = otherVariable(variable);
  try {
    chainOf(after, other);
  } catch (err) {
    // The boot line is both variables: what the other one adds cannot be checked.
    notes.push(`${(err as Error).message.replace(/;.*$/s, '')}: hvtune cannot check that ${other} keeps the boot line as asked`);
  }
  const persistedMiss = unmet(args, bootArgs(after));
  if (persistedMiss.length) {
    throw new TaskError(
      `${ctx.host}: ${other} decides ${persistedMiss.join(', ')} on the boot line after ${variable} is edited; ` +
        `manage those arguments in ${other}`,
    );
  }
  const advice = [
    ...(args.present ?? []).map(securityWarning),
    ...(args.present ?? []).map((a) => datedWarning(a, ctx.facts.kernel.version)),
  ].filter((w): w is string => w !== null);

  const liveMiss = observed.live === null ? ['(unreadable /proc/cmdline)'] : unmet(args, splitCmdline(observed.live));
  const changes: Change[] = [];
  for (const path of Object.keys(after)) {
    if (after[path] === before[path]) continue;
    const data: FinalizeData = {
      tool: observed.boot,
      present: args.present ?? [],
      absent: args.absent ?? [],
      restore: { path, content: before[path] },
    };
    const elsewhere = removedElsewhere.filter((r) => r.file === path).map((r) => `${r.arg} from ${r.variable} (${r.file}:${r.line})`);
    changes.push({
      summary:
        `${variable} in ${path}: ${describe(args)}` +
        (elsewhere.length ? `; removed ${elsewhere.join(', ')}` : '') +
        (liveMiss.length ? ' (reboot to take effect)' : ''),
      target: path,
      effect: liveMiss.length ? 'reboot' : 'persistent',
      diff: { path, before: before[path], after: after[path] },
      warnings: changes.length === 0 ? [...advice, ...notes] : [],
      data: { path, content: after[path] } satisfies ChangeData,
      finalize: { id: FINALIZE_ID, data },
    });
  }
  // /etc/default/grub is right but the boot config is not (a regeneration interrupted or never
  // run): the reboot would not apply the arguments, so regenerate — compared, not remembered.
  const configMiss = changes.length === 0 && observed.bootConfig ? unmet(args, observed.bootConfig.args) : [];
  if (configMiss.length) {
    const path = observed.bootConfig!.path;
    changes.push({
      summary:
        `regenerate the boot config: ${path} lacks ${configMiss.join(', ')}, which ${MAIN_FILE} has` +
        (liveMiss.length ? ' (reboot to take effect)' : ''),
      target: path,
      effect: liveMiss.length ? 'reboot' : 'persistent',
      before: `without ${configMiss.join(' ')}`,
      after: `with ${configMiss.join(' ')}`,
      warnings: [...advice, ...notes],
      data: { regenerate: path } satisfies ChangeData,
      finalize: {
        id: FINALIZE_ID,
        data: { tool: observed.boot, present: args.present ?? [], absent: args.absent ?? [], restore: null } satisfies FinalizeData,
      },
    });
  }
  const pending: Pending[] =
    changes.length === 0
      ? liveMiss.map((item) => ({
          effect: 'reboot',
          target: `cmdline:${item}`,
          summary: `${item} is persisted but not in /proc/cmdline: reboot`,
        }))
      : [];
  return { changes, pending, warnings: changes.length === 0 ? [...advice, ...notes] : [] };
}

function describe(args: GrubCmdlineArgs): string {
  return [...(args.present ?? []).map((a) => `+${a}`), ...(args.absent ?? []).map((a) => `-${a}`)].join(' ');
}

async function readFiles(host: HostHandle): Promise<Record<string, string> & { [MAIN_FILE]: string }> {
  const [main, dropIns] = await host.read([
    { kind: 'file', path: MAIN_FILE },
    { kind: 'glob', pattern: DROP_IN_GLOB },
  ]);
  if (main.kind !== 'file' || main.content === null) throw new TaskError(`${host.name}: ${MAIN_FILE} disappeared during the run`);
  return sourced({ main: main.content, dropIns: dropIns.kind === 'glob' ? dropIns.files : {} }) as Record<string, string> & {
    [MAIN_FILE]: string;
  };
}

// Apply writes exactly the planned contents: the plan saw the files as earlier tasks of this run
// leave them (the engine plans on top of their planned files), so their edits are kept.
async function apply(changes: Change[], host: HostHandle, args: GrubCmdlineArgs): Promise<void> {
  // a regeneration alone writes nothing here: the finalizer regenerates
  const planned = changes.map((c) => c.data as ChangeData).filter((d): d is Extract<ChangeData, { path: string }> => !('regenerate' in d));
  if (planned.length === 0) return;
  // A change without content was planned by an older hvtune: writing it would empty the file.
  const old = planned.find((d) => typeof d.content !== 'string');
  if (old) throw new TaskError(`${host.name}: the change of ${old.path} has no planned content; plan again`);
  for (const { path, content } of planned) await host.writeFile(path, content, { mode: 0o644 });
  const now = await readFiles(host);
  for (const { path, content } of planned) {
    if (now[path] !== content)
      throw new ApplyVerifyError(host.name, path, content, now[path] ?? null, 'the file changed while it was written');
  }
  const missing = unmet(args, bootArgs(now));
  if (missing.length) throw new ApplyVerifyError(host.name, MAIN_FILE, describe(args), `missing: ${missing.join(', ')}`);
}

/** The command that regenerates the boot config with the run's arguments. */
export function regenerateArgv(tool: BootTool, present: string[], absent: string[]): string[] | null {
  switch (tool.kind) {
    case 'grubby': {
      const argv = ['grubby', '--update-kernel=ALL'];
      if (present.length) argv.push(`--args=${present.join(' ')}`);
      if (absent.length) argv.push(`--remove-args=${absent.join(' ')}`);
      return argv;
    }
    case 'update-grub':
      return ['update-grub'];
    case 'mkconfig':
      return [tool.command, '-o', tool.output];
    case 'none':
      return null;
  }
}

async function finalize(_id: string, items: { change: Change; data?: unknown }[], host: HostHandle): Promise<void> {
  const data = items.map((i) => i.data as FinalizeData);
  const present = [...new Set(data.flatMap((d) => d.present))];
  const absent = [...new Set(data.flatMap((d) => d.absent))];
  const argv = regenerateArgv(data[0].tool, present, absent);
  let failure: string | null = null;
  if (!argv) {
    failure = 'no boot-config tool found (looked for grubby with /boot/loader/entries, update-grub, grub2-mkconfig, grub-mkconfig)';
  } else {
    const result = await host.exec(argv, { timeoutMs: 300_000 });
    if (result.code !== 0) {
      const how = result.code === null ? `was killed by ${result.signal ?? 'a signal'}` : `failed with exit code ${result.code}`;
      failure = `${joinArgv(argv)} ${how}:\n${(result.stderr || result.stdout).trimEnd()}`;
    }
  }
  if (failure === null) return;
  // The earliest planned `before` of each file is its content before this run.
  const originals = new Map<string, string>();
  for (const d of data) if (d.restore && !originals.has(d.restore.path)) originals.set(d.restore.path, d.restore.content);
  for (const [path, content] of originals) await host.writeFile(path, content, { mode: 0o644, backup: false });
  const restored = originals.size ? `, ${[...originals.keys()].join(', ')} restored` : '';
  throw new TaskError(`${host.name}: cannot regenerate the boot config${restored}: ${failure}`);
}

export const grub_cmdline = {
  name: 'grub_cmdline',
  description: 'Kernel command-line arguments in /etc/default/grub (a set), regenerated once per run; live in /proc/cmdline.',
  schema,
  validate,
  advise,
  read,
  parse,
  plan,
  apply,
  finalize,
  crossChecks: [hugepagePoolMemory],
} satisfies Module<GrubCmdlineArgs, GrubCmdlineObserved>;

export default grub_cmdline;
