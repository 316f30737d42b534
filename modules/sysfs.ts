// sysfs: attributes under /sys (THP, I/O scheduler…), live, and persisted by a systemd-tmpfiles
// `w` line or, for block devices, a udev rule (devices may appear after tmpfiles has run).

import type { Advice, ArgLeaf, Change, HostHandle, Module, PlanContext, ReadRequest, ReadResult } from '../src/module.js';
import { OLD_SCHEDULER } from '../src/dated.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { sh } from '../src/quote.js';
import { datedSchedulerWarning, editTmpfiles, matchSlug, normaliseSysfsValue, parseChoices, udevBlockRule } from './lib/choices.js';
import { hugepagePoolMemory } from './lib/cross/hugepage-pool-memory.js';
import { riskySysfs } from './lib/risky-settings.js';

type Value = string | number;

export type SysfsArgs =
  | { path: string; value: Value; persist?: 'tmpfiles' | 'udev' | 'no' }
  | { block: { match: string; attributes: Record<string, Value> }; persist?: 'udev' | 'no' };

export interface SysfsObserved {
  /** Every attribute the task sets: path, and its raw content (null = missing/unreadable). */
  targets: { path: string; attribute: string; live: string | null }[];
  tmpfiles: string | null;
  rule: string | null;
}

type SysfsChangeData =
  | { kind: 'write'; path: string; value: string }
  | { kind: 'tmpfiles' }
  | { kind: 'rule'; path: string; content: string | null };

export const TMPFILES = '/etc/tmpfiles.d/hvtune-sysfs.conf';
// Under /sys, plain path characters, no `.` or `..` segment.
const SYS_PATH = '^/sys(/(?!\\.\\.?(/|$))[A-Za-z0-9_.:@+,-]+)+$';
const VALUE = {
  anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^[A-Za-z0-9_.,:+@/-]+( [A-Za-z0-9_.,:+@/-]+)*$' }],
  'x-message': 'must be an integer or words of plain characters',
};
const BLOCK_DEVICE_PATH = /^\/sys\/block\/([A-Za-z0-9_.:-]+)\/(.+)$/;

const schema = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['path', 'value'],
      properties: {
        path: {
          type: 'string',
          pattern: SYS_PATH,
          'x-message': 'must be a path under /sys without . or .. segments',
          description: 'The sysfs attribute, e.g. /sys/kernel/mm/transparent_hugepage/enabled.',
        },
        value: { ...VALUE, description: 'The value; for a bracketed-choice file (always [madvise] never) one of the choices offered.' },
        persist: {
          type: 'string',
          enum: ['tmpfiles', 'udev', 'no'],
          description: `tmpfiles (default): a w line in ${TMPFILES}; udev: a rule, for /sys/block/DEVICE/… paths; no: not persisted (hvtune's line removed).`,
        },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['block'],
      properties: {
        block: {
          type: 'object',
          additionalProperties: false,
          required: ['match', 'attributes'],
          description: 'Attributes of every whole block device whose kernel name matches.',
          properties: {
            match: {
              type: 'string',
              pattern: '^[A-Za-z0-9_*?\\[\\]|-]{1,32}$',
              'x-message': 'must be a udev KERNEL match such as sd* or vd*|sd*',
              description: 'udev KERNEL match (globs *, ?, [], alternatives with |).',
            },
            attributes: {
              type: 'object',
              minProperties: 1,
              description: 'Attribute under the device (queue/scheduler, queue/read_ahead_kb…) → value.',
              propertyNames: { pattern: '^[a-z0-9_]+(/[a-z0-9_]+)*$', 'x-message': 'must be an attribute path such as queue/scheduler' },
              additionalProperties: VALUE,
            },
          },
        },
        persist: {
          type: 'string',
          enum: ['udev', 'no'],
          description: 'udev (default): /etc/udev/rules.d/60-hvtune-block-MATCH.rules; no: not persisted (the rule removed).',
        },
      },
    },
  ],
} as const;

function validate(args: SysfsArgs) {
  if ('path' in args && args.persist === 'udev' && !BLOCK_DEVICE_PATH.test(args.path)) {
    return [{ path: 'persist', message: 'udev persistence needs a /sys/block/DEVICE/ATTRIBUTE path; use tmpfiles for other paths' }];
  }
  return [];
}

/** A queue/scheduler value is a bare scheduler name: "noop" alone is the dated setting. */
function advise(leaf: ArgLeaf, args: SysfsArgs, generic: Advice[]): Advice[] {
  const scheduler =
    !leaf.isKey &&
    ((leaf.path[0] === 'block' && leaf.path[1] === 'attributes' && leaf.path[2] === 'queue/scheduler') ||
      (leaf.path[0] === 'value' && 'path' in args && /\/queue\/scheduler$/.test(String(args.path))));
  if (!scheduler) return generic;
  const old = OLD_SCHEDULER.in(leaf.text);
  return [...generic.filter((a) => a.id !== OLD_SCHEDULER.id), ...(old ? [old] : [])];
}

/** What the task sets, as (udev match, attributes) for a rule, or null when it persists otherwise. */
function ruleOf(args: SysfsArgs): { path: string; match: string; attributes: Record<string, string> } | null {
  if ('block' in args) {
    if (args.persist === 'no') return { path: rulePath(args.block.match), match: args.block.match, attributes: {} };
    const attributes = Object.fromEntries(Object.entries(args.block.attributes).map(([k, v]) => [k, normaliseSysfsValue(v)]));
    return { path: rulePath(args.block.match), match: args.block.match, attributes };
  }
  const m = BLOCK_DEVICE_PATH.exec(args.path);
  if (!m || args.persist !== 'udev') return null;
  return { path: rulePath(m[1]), match: m[1], attributes: { [m[2]]: normaliseSysfsValue(args.value) } };
}

const rulePath = (match: string) => `/etc/udev/rules.d/60-hvtune-block-${matchSlug(match)}.rules`;

/** Matching whole disks and their attributes, one `device<TAB>attribute[<TAB>value]` line each. */
export function blockScript(match: string, attributes: string[]): string {
  const names = match.split('|').flatMap((m, i) => (i ? ['-o', '-name', m] : ['-name', m]));
  return (
    sh`for d in $(find /sys/block/ -mindepth 1 -maxdepth 1 \\( ${names} \\) | sort); do n=\${d##*/}; for a in ${attributes}; do ` +
    `if v=$(cat "$d/$a" 2>/dev/null); then printf '%s\\t%s\\t%s\\n' "$n" "$a" "$v"; else printf '%s\\t%s\\n' "$n" "$a"; fi; done; done; true`
  );
}

export function parseBlockOutput(stdout: string): SysfsObserved['targets'] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [device, attribute, ...value] = line.split('\t');
      return { path: `/sys/block/${device}/${attribute}`, attribute, live: value.length ? value.join('\t') : null };
    });
}

function read(args: SysfsArgs): ReadRequest[] {
  const rule = ruleOf(args);
  const live: ReadRequest =
    'block' in args
      ? { kind: 'script', script: blockScript(args.block.match, Object.keys(args.block.attributes)) }
      : { kind: 'file', path: args.path };
  return [live, { kind: 'file', path: TMPFILES }, ...(rule ? [{ kind: 'file', path: rule.path } as ReadRequest] : [])];
}

function parse(args: SysfsArgs, results: ReadResult[]): SysfsObserved {
  const [live, tmpfiles, rule] = results;
  const targets =
    'block' in args
      ? parseBlockOutput(live.kind === 'script' ? live.stdout : '')
      : [{ path: args.path, attribute: args.path.split('/').pop()!, live: live.kind === 'file' ? live.content : null }];
  return {
    targets,
    tmpfiles: tmpfiles.kind === 'file' ? tmpfiles.content : null,
    rule: rule?.kind === 'file' ? rule.content : null,
  };
}

function desiredFor(args: SysfsArgs, attribute: string): string {
  return normaliseSysfsValue('block' in args ? args.block.attributes[attribute] : args.value);
}

function plan(args: SysfsArgs, observed: SysfsObserved, ctx: PlanContext) {
  const changes: Change[] = [];
  const warnings = new Set<string>();
  const wanted =
    'block' in args
      ? Object.entries(args.block.attributes).map(([a, v]) => [a, normaliseSysfsValue(v)])
      : [[args.path.split('/').pop()!, normaliseSysfsValue(args.value)]];
  for (const [attribute, value] of wanted) {
    const w = datedSchedulerWarning(attribute, value);
    if (w) warnings.add(w);
  }
  if (!('block' in args)) {
    const risky = riskySysfs(args.path, normaliseSysfsValue(args.value));
    if (risky) warnings.add(risky);
  }
  if ('block' in args && observed.targets.length === 0) {
    warnings.add(`no block device matches ${args.block.match} on this host now; the udev rule applies when one appears`);
  }
  for (const { path, attribute, live } of observed.targets) {
    if (live === null) throw new TaskError(`${ctx.host}: ${path} does not exist or cannot be read on Linux ${ctx.facts.kernel.release}`);
    const want = desiredFor(args, attribute);
    const { value, choices } = parseChoices(live);
    if (choices && !choices.includes(want)) {
      const dated = datedSchedulerWarning(attribute, want);
      throw new TaskError(`${ctx.host}: ${path} does not offer ${want} (choices: ${choices.join(', ')})${dated ? `; ${dated}` : ''}`);
    }
    if (value === want) continue;
    changes.push({
      summary: `set ${path}`,
      target: path,
      effect: 'live',
      before: value,
      after: want,
      data: { kind: 'write', path, value: want } satisfies SysfsChangeData,
    });
  }

  const rule = ruleOf(args);
  if (rule) {
    const content = Object.keys(rule.attributes).length ? udevBlockRule(rule.match, rule.attributes) : null;
    if (content !== observed.rule) {
      changes.push({
        summary: content ? `persist ${rule.match} attributes in a udev rule` : `remove the udev rule for ${rule.match}`,
        target: rule.path,
        effect: 'persistent',
        diff: { path: rule.path, before: observed.rule, after: content },
        data: { kind: 'rule', path: rule.path, content } satisfies SysfsChangeData,
      });
    }
  } else if ('path' in args) {
    const next = editTmpfiles(observed.tmpfiles, args.path, args.persist === 'no' ? null : normaliseSysfsValue(args.value));
    if (next !== observed.tmpfiles) {
      changes.push({
        summary: `${args.persist === 'no' ? 'stop persisting' : 'persist'} ${args.path} in ${TMPFILES}`,
        target: TMPFILES,
        effect: 'persistent',
        diff: { path: TMPFILES, before: observed.tmpfiles, after: next },
        data: { kind: 'tmpfiles' } satisfies SysfsChangeData,
      });
    }
  }
  // The JSON report keeps warnings per change: attach them to the first one when there is one.
  if (changes.length && warnings.size) changes[0] = { ...changes[0], warnings: [...warnings] };
  return { changes, warnings: changes.length ? [] : [...warnings] };
}

async function apply(changes: Change[], host: HostHandle, args: SysfsArgs): Promise<void> {
  for (const data of changes.map((c) => c.data as SysfsChangeData)) {
    if (data.kind === 'write') {
      await host.run(['sh', '-c', 'printf "%s\\n" "$2" > "$1"', 'sh', data.path, data.value]);
      const [back] = await host.read([{ kind: 'file', path: data.path }]);
      const actual = back.kind === 'file' && back.content !== null ? parseChoices(back.content).value : null;
      // A real file shows `always [never] madvise`; a plain file (a shadow in the lab) shows `never`.
      if (actual !== data.value) throw new ApplyVerifyError(host.name, data.path, data.value, actual);
    } else if (data.kind === 'rule') {
      if (data.content === null) await host.removeFile(data.path);
      else await host.writeFile(data.path, data.content, { mode: 0o644 });
    } else if ('path' in args) {
      // The tmpfiles file is shared by tasks: re-read and edit only this path's line.
      const [current] = await host.read([{ kind: 'file', path: TMPFILES }]);
      const content = current.kind === 'file' ? current.content : null;
      const next = editTmpfiles(content, args.path, args.persist === 'no' ? null : normaliseSysfsValue(args.value));
      if (next === null && content !== null) await host.removeFile(TMPFILES);
      else if (next !== null && next !== content) await host.writeFile(TMPFILES, next, { mode: 0o644 });
    }
  }
}

export const sysfs = {
  name: 'sysfs',
  description: 'Attributes under /sys (transparent hugepages, block-device queue settings), live and persisted by tmpfiles or udev.',
  schema,
  validate,
  advise,
  read,
  parse,
  plan,
  apply,
  crossChecks: [hugepagePoolMemory],
} satisfies Module<SysfsArgs, SysfsObserved>;

export default sysfs;
