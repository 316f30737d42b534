// iptables_table: one whole iptables table declared (seed 003's firewall teardown for the 500k-2M
// pps tier: an empty filter table, or a raw table that skips connection tracking), restored
// atomically with iptables-restore and persisted in the netfilter-persistent file. Compared as
// data with what iptables-save prints, so a second run re-adds nothing.

import type { Change, HostHandle, Module, PlanContext, ReadRequest, ReadResult } from '../src/module.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { sh } from '../src/quote.js';

type Table = 'raw' | 'mangle' | 'filter' | 'nat';

export interface IptablesTableArgs {
  table: Table;
  family?: 'ipv4' | 'ipv6';
  /** chain → its rules, in order, as iptables-save prints them without `-A CHAIN`. */
  chains?: Record<string, string[]>;
  file?: string;
}

export interface IptablesTableObserved {
  /** iptables-save -t TABLE now; null when the command is missing or failed (with why). */
  live: string | null;
  error: string | null;
  /** The declared table as iptables itself prints it (restored in a throwaway network namespace), or null. */
  canonical: string | null;
  persisted: string | null;
}

interface ParsedTable {
  chains: Record<string, string>;
  rules: string[];
}

const BUILT_IN: Record<Table, string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
};

// A rule is iptables words on one line: no newline, no quotes or shell syntax, no table or COMMIT
// lines smuggled into the restore input.
const RULE = '^[A-Za-z0-9!-][A-Za-z0-9 _.,:/!+=-]{0,400}$';
const CHAIN = '^[A-Za-z][A-Za-z0-9_-]{0,28}$';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['table'],
  properties: {
    table: { enum: ['raw', 'mangle', 'filter', 'nat'], description: 'The table, declared whole: rules not listed are removed.' },
    family: { enum: ['ipv4', 'ipv6'], default: 'ipv4', description: 'iptables (ipv4, default) or ip6tables (ipv6).' },
    chains: {
      type: 'object',
      description:
        'Chain → its rules in order, each as iptables-save prints it after `-A CHAIN` ("-p udp -j CT --notrack"). ' +
        'Built-in chains not listed are empty with policy ACCEPT; other names are user chains. {} or absent: the table empty.',
      propertyNames: { pattern: CHAIN, 'x-message': 'must be a chain name such as PREROUTING' },
      additionalProperties: {
        type: 'array',
        items: { type: 'string', pattern: RULE, 'x-message': 'must be one iptables rule on one line, without quotes' },
      },
    },
    file: {
      type: 'string',
      pattern: '^/etc/iptables/[A-Za-z0-9_][A-Za-z0-9_.-]*$',
      description:
        'The file that persists the table: its block of this table is replaced, other tables kept (default /etc/iptables/rules.v4 ' +
        'or rules.v6, which netfilter-persistent restores at boot).',
      'x-message': 'must be a file under /etc/iptables/',
    },
  },
} as const;

const tool = (args: IptablesTableArgs) => (args.family === 'ipv6' ? 'ip6tables' : 'iptables');
const filePath = (args: IptablesTableArgs) => args.file ?? `/etc/iptables/rules.${args.family === 'ipv6' ? 'v6' : 'v4'}`;

/** The iptables-restore input for the declared table. */
export function restoreInput(args: IptablesTableArgs): string {
  const chains = args.chains ?? {};
  const names = [...BUILT_IN[args.table], ...Object.keys(chains).filter((c) => !BUILT_IN[args.table].includes(c))];
  const lines = [`*${args.table}`];
  for (const name of names) lines.push(`:${name} ${BUILT_IN[args.table].includes(name) ? 'ACCEPT' : '-'} [0:0]`);
  for (const [name, rules] of Object.entries(chains))
    for (const rule of rules) lines.push(`-A ${name} ${rule.trim().replace(/\s+/g, ' ')}`);
  lines.push('COMMIT');
  return `${lines.join('\n')}\n`;
}

/** One table of iptables-save output as data: policies and rules, without comments and counters. */
export function parseTable(text: string, table: string): ParsedTable {
  const parsed: ParsedTable = { chains: {}, rules: [] };
  let inside = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) inside = line === `*${table}`;
    else if (!inside || line === '' || line.startsWith('#')) continue;
    else if (line === 'COMMIT') inside = false;
    else if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      parsed.chains[name] = policy;
    } else parsed.rules.push(line.replace(/\s+/g, ' '));
  }
  return parsed;
}

/** The table with nothing in it, as a fresh kernel has it (iptables-save prints nothing for it). */
const emptyTable = (table: Table): ParsedTable => ({
  chains: Object.fromEntries(BUILT_IN[table].map((c) => [c, 'ACCEPT'])),
  rules: [],
});

const sameTable = (a: ParsedTable, b: ParsedTable) => JSON.stringify(sortChains(a)) === JSON.stringify(sortChains(b));
const sortChains = (t: ParsedTable) => ({ chains: Object.entries(t.chains).sort(), rules: t.rules });

const MARK = '--hvtune-iptables--';

function read(args: IptablesTableArgs): ReadRequest[] {
  const save = `${tool(args)}-save`;
  const restore = `${tool(args)}-restore`;
  return [
    {
      kind: 'script',
      // The declared table restored in a throwaway network namespace and printed back: the form
      // iptables itself prints (protocol names, module options), so comparing never flaps.
      script:
        sh`if ! command -v ${save} >/dev/null 2>&1; then echo ${`${MARK}missing`}; exit 0; fi; ` +
        sh`if out=$(${save} -t ${args.table} 2>&1); then printf '%s\n' "$out"; else echo ${`${MARK}error`}; printf '%s\n' "$out"; fi; ` +
        sh`echo ${`${MARK}canonical`}; ` +
        sh`printf '%s' ${restoreInput(args)} | unshare -n sh -c ${`${restore} -w && ${save} -t ${args.table}`} 2>/dev/null || true`,
    },
    { kind: 'file', path: filePath(args) },
  ];
}

function parse(_args: IptablesTableArgs, results: ReadResult[]): IptablesTableObserved {
  const [state, file] = results;
  const out = state.kind === 'script' || state.kind === 'cmd' ? state.stdout : '';
  const [live, canonical = ''] = out.split(`${MARK}canonical\n`);
  const observed: IptablesTableObserved = {
    live,
    error: null,
    canonical: canonical.trim() ? canonical : null,
    persisted: file.kind === 'file' ? file.content : null,
  };
  if (live.startsWith(`${MARK}missing`)) return { ...observed, live: null, error: 'not installed' };
  if (live.startsWith(`${MARK}error`)) return { ...observed, live: null, error: live.slice(`${MARK}error\n`.length).trim() };
  return observed;
}

/** `text` with its block of `table` replaced by `block` (appended when it has none). */
export function replaceTableBlock(text: string | null, table: string, block: string): string {
  const lines = (text ?? '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const start = lines.findIndex((l) => l.trim() === `*${table}`);
  if (start === -1) return `${[...lines, ...block.trimEnd().split('\n')].join('\n')}\n`;
  let end = start;
  while (end < lines.length && lines[end].trim() !== 'COMMIT') end++;
  return `${[...lines.slice(0, start), ...block.trimEnd().split('\n'), ...lines.slice(end + 1)].join('\n')}\n`;
}

function plan(args: IptablesTableArgs, observed: IptablesTableObserved, ctx: PlanContext) {
  const name = tool(args);
  if (observed.live === null) throw new TaskError(`${ctx.host}: ${name}-save: ${observed.error}`);
  const declared = restoreInput(args);
  const desired = parseTable(observed.canonical ?? declared, args.table);
  const liveText = observed.live.trim() ? observed.live : '';
  const live = liveText.includes(`*${args.table}`) ? parseTable(liveText, args.table) : emptyTable(args.table);
  const changes: Change[] = [];
  const show = (t: ParsedTable) => [...Object.entries(t.chains).map(([c, p]) => `:${c} ${p}`), ...t.rules].join('\n') || '(empty)';
  if (!sameTable(live, desired)) {
    changes.push({
      summary: `restore the ${args.table} table of ${name} (${desired.rules.length} rules)`,
      target: `${name}:${args.table}`,
      effect: 'live',
      before: show(live),
      after: show(desired),
      data: { kind: 'restore', input: declared },
    });
  }
  const path = filePath(args);
  const persistedTable = observed.persisted?.includes(`*${args.table}`) ? parseTable(observed.persisted, args.table) : null;
  if (!persistedTable || !sameTable(persistedTable, desired)) {
    const next = replaceTableBlock(observed.persisted, args.table, declared);
    changes.push({
      summary: `persist the ${args.table} table in ${path}`,
      target: path,
      effect: 'persistent',
      diff: { path, before: observed.persisted, after: next },
      data: { kind: 'file', path, content: next },
    });
  }
  const warnings =
    observed.canonical === null
      ? [`${ctx.host}: cannot check the rules in a scratch network namespace (unshare -n): they are compared as written`]
      : [];
  return { changes, warnings };
}

type ChangeData = { kind: 'restore'; input: string } | { kind: 'file'; path: string; content: string };

async function apply(changes: Change[], host: HostHandle, args: IptablesTableArgs): Promise<void> {
  for (const data of changes.map((c) => c.data as ChangeData)) {
    if (data.kind === 'file') {
      await host.writeFile(data.path, data.content, { mode: 0o640 });
      continue;
    }
    // iptables-restore replaces the whole table in one commit: old rules or new, never a mix.
    await host.run([`${tool(args)}-restore`, '-w'], { stdin: data.input });
    const now = await host.run([`${tool(args)}-save`, '-t', args.table]);
    const declared = parseTable(data.input, args.table);
    const got = parseTable(now.stdout, args.table);
    if (got.rules.length !== declared.rules.length || Object.keys(got.chains).length !== Object.keys(declared.chains).length)
      throw new ApplyVerifyError(host.name, `${tool(args)}:${args.table}`, declared.rules.join('; '), got.rules.join('; '));
  }
}

export const iptables_table = {
  name: 'iptables_table',
  description: 'One iptables/ip6tables table declared whole, restored atomically (iptables-restore) and persisted in /etc/iptables.',
  schema,
  read,
  parse,
  plan,
  apply,
} satisfies Module<IptablesTableArgs, IptablesTableObserved>;

export default iptables_table;
