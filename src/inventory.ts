// The inventory: hosts, groups, variables and how to connect, in the YAML shape Ansible users know.
//
// Variable precedence, lowest first: the group `all`, then parent groups before their children
// (a group's depth is its longest path from `all`), groups of the same depth in alphabetical
// order (Ansible's rule), then the host's own keys and `vars:` (in file order if the host is
// listed more than once), then extra vars (`-e`). Merging is shallow: a mapping set at a higher
// level replaces the lower one whole, as Ansible does by default.
//
// The connection keys (address, port, user, identity_file, password, jump, become, reboot_command) are
// connection settings wherever they are set (host, group vars, -e); they end up in
// `host.connection`, not in `host.vars`.

import { userInfo } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { InputError, type InputProblem, type SourcePosition } from './errors.js';
import { checkSchema, closestMatches, sortProblems } from './schema.js';
import {
  ANSIBLE_CONNECTION_NAMES,
  CONNECTION_KEYS,
  VARIABLE_NAME_PATTERN,
  connectionProperties,
  inventorySchema,
  type ConnectionKey,
} from './schemas/inventory.js';
import { loadSource, parseSource, type Source, type SourcePath } from './source.js';

export { selectHosts } from './patterns.js';

export interface InventoryHost {
  name: string;
  groups: string[];
  vars: Record<string, unknown>;
  connection: {
    address: string;
    port: number;
    user: string;
    identity_file?: string;
    password?: string;
    jump?: string;
    become: boolean;
    /** argv that reboots the host (the reboot module); default systemctl reboot */
    reboot_command?: string[];
  };
}

export interface InventoryGroup {
  name: string;
  /** Hosts listed directly in the group. */
  hosts: string[];
  children: string[];
}

export interface Inventory {
  file: string;
  /** In inventory order: the order hosts first appear in the file. */
  hosts: Map<string, InventoryHost>;
  groups: Map<string, InventoryGroup>;
  /** Problems that do not stop a run (a password in the file, ansible_* variable names). */
  warnings?: InputProblem[];
}

interface GroupDraft extends InventoryGroup {
  parents: Set<string>;
  /** Each `vars:` block of the group, in file order. */
  vars: { values: Record<string, unknown>; path: SourcePath }[];
}

interface HostDraft {
  name: string;
  direct: Set<string>;
  entries: { values: Record<string, unknown>; path: SourcePath }[];
}

export function loadInventory(file: string, extraVars: Record<string, unknown> = {}): Inventory {
  return buildInventory(loadSource(file), extraVars);
}

/** Same as loadInventory, from YAML text (tests, inventories from other sources). */
export function parseInventory(text: string, file: string, extraVars: Record<string, unknown> = {}): Inventory {
  return buildInventory(parseSource(text, file), extraVars);
}

function buildInventory(source: Source, extraVars: Record<string, unknown>): Inventory {
  const at = (path: SourcePath): SourcePosition => source.pos(path);
  if (source.value === null || (typeof source.value === 'object' && Object.keys(source.value).length === 0)) {
    throw new InputError([{ pos: at([]), message: 'the inventory is empty: expected groups such as all: { hosts: … }' }]);
  }
  const problems = checkSchema(inventorySchema, source.value, { source });
  problems.push(...checkExtraVars(extraVars));
  if (problems.length) throw new InputError(sortProblems(problems));

  const warnings: InputProblem[] = [];
  const groups = new Map<string, GroupDraft>();
  const hosts = new Map<string, HostDraft>();
  const group = (name: string): GroupDraft => {
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { name, hosts: [], children: [], parents: new Set(), vars: [] }));
    return g;
  };
  group('all');

  const walk = (name: string, body: Record<string, any> | null, path: SourcePath, parent?: string) => {
    const g = group(name);
    if (parent) {
      if (name === 'all') problems.push({ pos: at(path), message: 'the group "all" cannot be a child of another group' });
      else {
        addOnce(group(parent).children, name);
        g.parents.add(parent);
      }
    }
    if (!body) return;
    if (body.vars) g.vars.push({ values: body.vars, path: [...path, 'vars'] });
    for (const [hostName, entry] of Object.entries<Record<string, unknown> | null>(body.hosts ?? {})) {
      let h = hosts.get(hostName);
      if (!h) hosts.set(hostName, (h = { name: hostName, direct: new Set(), entries: [] }));
      h.direct.add(name);
      addOnce(g.hosts, hostName);
      if (entry) h.entries.push({ values: entry, path: [...path, 'hosts', hostName] });
    }
    for (const [child, childBody] of Object.entries<Record<string, any> | null>(body.children ?? {})) {
      walk(child, childBody, [...path, 'children', child], name);
    }
  };
  for (const [name, body] of Object.entries(source.value as Record<string, Record<string, any> | null>)) {
    walk(name, body, [name], name === 'all' ? undefined : 'all');
  }

  const depth = groupDepths(groups, (name, cycle) =>
    problems.push({ pos: at(findGroupPath(source.value, name) ?? []), message: `group cycle: ${cycle.join(' → ')}` }),
  );
  if (problems.length) throw new InputError(sortProblems(problems));

  const ungrouped = group('ungrouped');
  for (const h of hosts.values()) {
    if ([...h.direct].every((g) => g === 'all')) addOnce(ungrouped.hosts, h.name);
    if (groups.has(h.name) && h.name !== 'ungrouped') {
      warnings.push({ pos: at(h.entries[0]?.path ?? []), message: `"${h.name}" is both a host and a group; patterns name the group` });
    }
  }
  if (!depth.has('ungrouped')) depth.set('ungrouped', 1);

  const result = new Map<string, InventoryHost>();
  const origins = new Map<string, Map<string, SourcePath | null>>();
  for (const h of hosts.values()) {
    const memberOf = ancestors(groups, h.direct);
    if (ungrouped.hosts.includes(h.name)) memberOf.add('ungrouped');
    const ordered = [...memberOf].sort((a, b) => depth.get(a)! - depth.get(b)! || a.localeCompare(b));
    const merged: Record<string, unknown> = {};
    const origin = new Map<string, SourcePath | null>();
    const set = (values: Record<string, unknown>, path: SourcePath | null) => {
      for (const [key, value] of Object.entries(values)) {
        merged[key] = value;
        origin.set(key, path && [...path, key]);
      }
    };
    for (const name of ordered) for (const block of groups.get(name)!.vars) set(block.values, block.path);
    const ownKeys = new Map<string, unknown>();
    for (const entry of h.entries) {
      const { vars: hostVars, ...connection } = entry.values as { vars?: Record<string, unknown> };
      for (const [key, value] of Object.entries({ ...connection, ...hostVars })) {
        if (ownKeys.has(key) && JSON.stringify(ownKeys.get(key)) !== JSON.stringify(value)) {
          warnings.push({ pos: at([...entry.path, key]), message: `host "${h.name}" sets "${key}" more than once; the last one wins` });
        }
        ownKeys.set(key, value);
      }
      set(connection, entry.path);
      if (hostVars) set(hostVars, [...entry.path, 'vars']);
    }
    set(extraVars, null);
    result.set(h.name, { name: h.name, groups: ordered, vars: merged, connection: takeConnection(h.name, merged) });
    origins.set(h.name, origin);
  }

  for (const host of result.values()) {
    const origin = origins.get(host.name)!;
    const where = (key: string): SourcePosition | undefined => {
      const path = origin.get(key);
      return path ? at(path) : undefined;
    };
    const jump = host.connection.jump;
    if (jump !== undefined && !result.has(jump)) {
      const close = closestMatches(jump, result.keys());
      const hint = close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : '';
      problems.push({ pos: where('jump'), path: host.name, message: `jump host "${jump}" is not in the inventory${hint}` });
    } else if (jump !== undefined) {
      const chain = jumpChain(result, host.name);
      if (chain) problems.push({ pos: where('jump'), path: host.name, message: `jump hosts loop: ${chain.join(' → ')}` });
    }
    if (host.connection.password !== undefined) {
      warnings.push({
        pos: where('password'),
        path: host.name,
        message: 'a password in the inventory is discouraged: use identity_file or an ssh agent',
        severity: 'warning',
      });
    }
    for (const key of Object.keys(host.vars)) {
      const ours = ANSIBLE_CONNECTION_NAMES[key];
      if (ours)
        warnings.push({
          pos: where(key),
          path: host.name,
          message: `"${key}" is an Ansible name; hvtune uses "${ours}"`,
          severity: 'warning',
        });
    }
  }
  if (problems.length) throw new InputError(sortProblems(problems));

  const publicGroups = new Map<string, InventoryGroup>();
  for (const g of groups.values()) publicGroups.set(g.name, { name: g.name, hosts: g.hosts, children: g.children });
  publicGroups.get('all')!.hosts = [...result.keys()];
  return { file: source.file, hosts: result, groups: publicGroups, warnings: dedupe(warnings) };
}

/** Move the connection keys out of the variables, with defaults: address = name, port 22. */
function takeConnection(name: string, vars: Record<string, unknown>): InventoryHost['connection'] {
  const value: Partial<Record<ConnectionKey, unknown>> = {};
  for (const key of CONNECTION_KEYS) {
    if (key in vars) value[key] = vars[key];
    delete vars[key];
  }
  const connection: InventoryHost['connection'] = {
    address: (value.address as string | undefined) ?? name,
    port: (value.port as number | undefined) ?? 22,
    user: (value.user as string | undefined) ?? defaultUser(),
    become: (value.become as boolean | undefined) ?? false,
  };
  if (value.identity_file !== undefined) connection.identity_file = value.identity_file as string;
  if (value.password !== undefined) connection.password = value.password as string;
  if (value.jump !== undefined) connection.jump = value.jump as string;
  if (value.reboot_command !== undefined) connection.reboot_command = value.reboot_command as string[];
  return connection;
}

/** Like ssh: the local user when the inventory names none. */
function defaultUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

/**
 * `-e` values, as Ansible takes them: `key=value` (several per item, separated by spaces; values
 * are YAML scalars, so `port=2222` is a number and `become=true` a boolean), a YAML/JSON mapping
 * `{"key": value}`, or `@file.yml`. Later items win.
 */
export function parseExtraVars(items: string[]): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  const problems: InputProblem[] = [];
  const addMapping = (value: unknown, what: string) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ path: '-e', message: `${what} must be a mapping of variables` });
    } else Object.assign(vars, value);
  };
  for (const item of items) {
    const text = item.trim();
    try {
      if (text.startsWith('@')) addMapping(loadSource(text.slice(1)).value, text.slice(1));
      else if (text.startsWith('{')) addMapping(parseSource(text, '-e').value, JSON.stringify(text));
      else Object.assign(vars, keyValues(text));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length) throw new InputError(problems);
  return vars;
}

function keyValues(text: string): Record<string, unknown> {
  const words = text.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
  const pairs = words.every((w) => w.includes('=')) ? words : [text];
  const vars: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq);
    if (eq <= 0 || !new RegExp(VARIABLE_NAME_PATTERN).test(key)) {
      throw new InputError([{ path: '-e', message: `${JSON.stringify(pair)}: expected key=value, {"key": value} or @file.yml` }]);
    }
    vars[key] = yamlScalar(pair.slice(eq + 1));
  }
  return vars;
}

function yamlScalar(raw: string): unknown {
  try {
    return parseYaml(raw) ?? (raw === '' ? '' : null);
  } catch {
    return raw;
  }
}

/** Extra vars override everything, so their connection keys need the same checks. */
function checkExtraVars(extraVars: Record<string, unknown>): InputProblem[] {
  const problems: InputProblem[] = [];
  const schema = { type: 'object', properties: connectionProperties };
  for (const p of checkSchema(schema, extraVars)) problems.push({ ...p, path: `-e ${p.path ?? ''}`.trim() });
  for (const key of Object.keys(extraVars)) {
    if (!new RegExp(VARIABLE_NAME_PATTERN).test(key)) problems.push({ path: '-e', message: `"${key}" is not a variable name` });
  }
  return problems;
}

/** Longest distance of each group from `all`; reports cycles. */
function groupDepths(groups: Map<string, GroupDraft>, onCycle: (group: string, cycle: string[]) => void): Map<string, number> {
  const depth = new Map<string, number>();
  const visiting: string[] = [];
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const loop = visiting.indexOf(name);
    if (loop >= 0) {
      onCycle(name, [...visiting.slice(loop), name]);
      return 0;
    }
    visiting.push(name);
    const parents = [...groups.get(name)!.parents];
    const d = parents.length ? 1 + Math.max(...parents.map(visit)) : name === 'all' ? 0 : 1;
    visiting.pop();
    depth.set(name, d);
    return d;
  };
  for (const name of groups.keys()) visit(name);
  return depth;
}

function ancestors(groups: Map<string, GroupDraft>, direct: Iterable<string>): Set<string> {
  const out = new Set<string>(['all']);
  const stack = [...direct];
  while (stack.length) {
    const name = stack.pop()!;
    if (out.has(name) && name !== 'all') continue;
    out.add(name);
    stack.push(...(groups.get(name)?.parents ?? []));
  }
  return out;
}

/** The chain of jump hosts from `start` when it comes back to a host already on it. */
function jumpChain(hosts: Map<string, InventoryHost>, start: string): string[] | undefined {
  const chain = [start];
  let next = hosts.get(start)?.connection.jump;
  while (next !== undefined) {
    const loop = chain.indexOf(next);
    if (loop >= 0) return [...chain.slice(loop), next];
    chain.push(next);
    next = hosts.get(next)?.connection.jump;
  }
  return undefined;
}

/** Source path of the first definition of a group, for cycle messages. */
function findGroupPath(value: unknown, name: string, path: SourcePath = []): SourcePath | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, body] of Object.entries(value)) {
    const here = path.length === 0 ? [key] : [...path, key];
    if (key === name && path.length !== 0) return here;
    const children = (body as { children?: unknown } | null)?.children;
    const found = findGroupPath(children, name, [...here, 'children']);
    if (found) return found;
  }
  return undefined;
}

function addOnce(list: string[], item: string): void {
  if (!list.includes(item)) list.push(item);
}

function dedupe(problems: InputProblem[]): InputProblem[] {
  const seen = new Set<string>();
  return sortProblems(problems.map((p) => ({ ...p, severity: 'warning' as const }))).filter((p) => {
    const key = `${p.pos?.line}:${p.pos?.column}:${p.message}`;
    return !seen.has(key) && seen.add(key) !== undefined;
  });
}
