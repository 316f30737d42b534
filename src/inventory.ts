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
  variablesFileSchema,
  type ConnectionKey,
} from './schemas/inventory.js';
import { readInventorySources, type VarsFile } from './inventory/sources.js';
import { defaultSshConfigPath, readSshConfig, type SshConfigLookup } from './inventory/ssh-config.js';
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
  /** Where `-i` pointed (several sources joined with ", ", for messages). */
  file: string;
  /** Each `-i` as given. */
  sources?: string[];
  /** In inventory order: the order hosts first appear in the sources. */
  hosts: Map<string, InventoryHost>;
  groups: Map<string, InventoryGroup>;
  /** Every file read (inventory files, group_vars/, host_vars/): what a saved plan hashes. */
  files?: string[];
  /** Jump hosts named by ProxyJump that are not inventory hosts: reached, never targeted. */
  bastions?: Map<string, InventoryHost>;
  /** Problems that do not stop a run (a password in the file, group_vars of no group). */
  warnings?: InputProblem[];
}

/** A block of variables and where it came from (positions are looked up only for problems). */
interface VarsBlock {
  values: Record<string, unknown>;
  source: Source;
  path: SourcePath;
}

interface GroupDraft extends InventoryGroup {
  parents: Set<string>;
  /** Each `vars:` block of the group in the inventory sources, in order. */
  vars: VarsBlock[];
  /** group_vars/ files for the group: beside the inventory, then beside the playbook. */
  files: { inventory: VarsBlock[]; playbook: VarsBlock[] };
}

interface HostDraft {
  name: string;
  direct: Set<string>;
  entries: VarsBlock[];
  files: { inventory: VarsBlock[]; playbook: VarsBlock[] };
}

export interface LoadInventoryOptions {
  /** The playbook's directory: its group_vars/ and host_vars/ apply too (above the inventory's). */
  playbookDir?: string;
  /** ssh's config file (default: $HVTUNE_SSH_CONFIG, else ~/.ssh/config); null: none. */
  sshConfig?: string | null;
}

/**
 * Load what `-i` names: one or more files (YAML or Ansible INI), directories of them, or a host
 * list (`hv1,hv2,`), with the group_vars/ and host_vars/ beside them (and beside the playbook).
 */
export function loadInventory(
  file: string | string[],
  extraVars: Record<string, unknown> = {},
  opts: LoadInventoryOptions = {},
): Inventory {
  const given = Array.isArray(file) ? file : [file];
  const read = readInventorySources(given, opts);
  const sshConfig = readSshConfig(opts.sshConfig === undefined ? defaultSshConfigPath() : opts.sshConfig);
  return { ...buildInventory(read.sources, read.varsFiles, extraVars, given.join(', '), read.files, sshConfig), sources: given };
}

/** Same as loadInventory, from YAML text (tests, inventories from other sources). */
export function parseInventory(text: string, file: string, extraVars: Record<string, unknown> = {}): Inventory {
  return buildInventory([parseSource(text, file)], [], extraVars, file, [file]);
}

function buildInventory(
  sources: Source[],
  varsFiles: VarsFile[],
  extraVars: Record<string, unknown>,
  name: string,
  files: string[],
  sshConfig: SshConfigLookup = () => ({}),
): Inventory {
  const problems: InputProblem[] = [];
  const warnings: InputProblem[] = [];
  const pos = (block: { source: Source; path: SourcePath }, key?: string): SourcePosition =>
    block.source.pos(key === undefined ? block.path : [...block.path, key]);
  for (const source of sources) {
    if (source.value === null || (typeof source.value === 'object' && Object.keys(source.value).length === 0)) {
      problems.push({ pos: source.pos([]), message: 'the inventory is empty: expected groups such as all: { hosts: … }' });
      continue;
    }
    problems.push(...checkSchema(inventorySchema, source.value, { source }));
  }
  for (const v of varsFiles) {
    if (v.source.value === null) continue;
    problems.push(...checkSchema(variablesFileSchema, v.source.value, { source: v.source }));
  }
  problems.push(...checkExtraVars(extraVars));
  if (problems.length) throw new InputError(sortProblems(problems));

  const groups = new Map<string, GroupDraft>();
  const hosts = new Map<string, HostDraft>();
  const group = (name: string): GroupDraft => {
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { name, hosts: [], children: [], parents: new Set(), vars: [], files: { inventory: [], playbook: [] } }));
    return g;
  };
  group('all');

  for (const source of sources) {
    const walk = (name: string, body: Record<string, any> | null, path: SourcePath, parent?: string) => {
      const g = group(name);
      if (parent) {
        if (name === 'all') problems.push({ pos: source.pos(path), message: 'the group "all" cannot be a child of another group' });
        else {
          addOnce(group(parent).children, name);
          g.parents.add(parent);
        }
      }
      if (!body) return;
      if (body.vars) g.vars.push({ values: body.vars, source, path: [...path, 'vars'] });
      for (const [hostName, entry] of Object.entries<Record<string, unknown> | null>(body.hosts ?? {})) {
        let h = hosts.get(hostName);
        if (!h) hosts.set(hostName, (h = { name: hostName, direct: new Set(), entries: [], files: { inventory: [], playbook: [] } }));
        h.direct.add(name);
        addOnce(g.hosts, hostName);
        if (entry) h.entries.push({ values: entry, source, path: [...path, 'hosts', hostName] });
      }
      for (const [child, childBody] of Object.entries<Record<string, any> | null>(body.children ?? {})) {
        walk(child, childBody, [...path, 'children', child], name);
      }
    };
    for (const [name, body] of Object.entries(source.value as Record<string, Record<string, any> | null>)) {
      walk(name, body, [name]);
    }
  }
  // As Ansible does: a group no other group lists is a child of all.
  for (const g of groups.values()) {
    if (g.name !== 'all' && g.parents.size === 0) {
      addOnce(group('all').children, g.name);
      g.parents.add('all');
    }
  }

  for (const v of varsFiles) {
    const values = (v.source.value ?? {}) as Record<string, unknown>;
    const block = { values, source: v.source, path: [] };
    if (v.kind === 'group') {
      const g = groups.get(v.name);
      // Ansible ignores group_vars of groups the inventory does not have; say so, a typo is likely
      if (!g)
        warnings.push({ pos: v.source.pos([]), message: `group_vars for "${v.name}", a group the inventory does not have: not used` });
      else g.files[v.origin].push(block);
    } else {
      const h = hosts.get(v.name);
      if (!h) warnings.push({ pos: v.source.pos([]), message: `host_vars for "${v.name}", a host the inventory does not have: not used` });
      else h.files[v.origin].push(block);
    }
  }

  const depth = groupDepths(groups, (name, cycle) => {
    const at = sources.map((s) => findGroupPath(s.value, name) && s.pos(findGroupPath(s.value, name)!)).find(Boolean);
    problems.push({ pos: at ?? sources[0]?.pos([]), message: `group cycle: ${cycle.join(' → ')}` });
  });
  if (problems.length) throw new InputError(sortProblems(problems));

  const ungrouped = group('ungrouped');
  for (const h of hosts.values()) {
    if ([...h.direct].every((g) => g === 'all' || g === 'ungrouped')) addOnce(ungrouped.hosts, h.name);
    if (groups.has(h.name) && h.name !== 'ungrouped') {
      const first = h.entries[0];
      warnings.push({ pos: first ? pos(first) : undefined, message: `"${h.name}" is both a host and a group; patterns name the group` });
    }
  }
  if (ungrouped.hosts.length && ungrouped.parents.size === 0) {
    addOnce(group('all').children, 'ungrouped');
    ungrouped.parents.add('all');
  }
  if (!depth.has('ungrouped')) depth.set('ungrouped', 1);

  const result = new Map<string, InventoryHost>();
  const origins = new Map<string, Map<string, VarsBlock | null>>();
  const bastions = new Map<string, InventoryHost>();
  for (const h of hosts.values()) {
    const memberOf = ancestors(groups, h.direct);
    if (ungrouped.hosts.includes(h.name)) memberOf.add('ungrouped');
    const ordered = [...memberOf].sort((a, b) => depth.get(a)! - depth.get(b)! || a.localeCompare(b));
    const merged: Record<string, unknown> = {};
    const origin = new Map<string, VarsBlock | null>();
    const set = (block: VarsBlock | null, values: Record<string, unknown>) => {
      for (const [key, value] of Object.entries(values)) {
        // Ansible's names for the connection are ours, wherever they are set
        const ours = ANSIBLE_CONNECTION_NAMES[key] ?? key;
        merged[ours] = value;
        origin.set(ours, block && { ...block, path: [...block.path, key] });
      }
    };
    const others = ordered.filter((g) => g !== 'all');
    // Ansible's precedence: inventory group vars < group_vars/all (inventory, playbook) <
    // group_vars/* (inventory, playbook) < inventory host vars < host_vars/ (inventory, playbook)
    for (const name of ordered) for (const block of groups.get(name)!.vars) set(block, block.values);
    for (const origin of ['inventory', 'playbook'] as const) for (const block of groups.get('all')!.files[origin]) set(block, block.values);
    for (const origin of ['inventory', 'playbook'] as const)
      for (const name of others) for (const block of groups.get(name)!.files[origin]) set(block, block.values);
    const ownKeys = new Map<string, unknown>();
    for (const entry of h.entries) {
      const { vars: hostVars, ...direct } = entry.values as { vars?: Record<string, unknown> };
      for (const [key, value] of Object.entries({ ...direct, ...hostVars })) {
        if (ownKeys.has(key) && JSON.stringify(ownKeys.get(key)) !== JSON.stringify(value)) {
          warnings.push({ pos: pos(entry, key), message: `host "${h.name}" sets "${key}" more than once; the last one wins` });
        }
        ownKeys.set(key, value);
      }
      for (const key of Object.keys(direct)) {
        // a variable beside the connection keys may be a misspelt one: say so, it is not used to connect
        if (key in ANSIBLE_CONNECTION_NAMES || (CONNECTION_KEYS as readonly string[]).includes(key) || key.length < 4) continue;
        const [close] = closestMatches(key, CONNECTION_KEYS, 1);
        if (close && Math.abs(close.length - key.length) <= 2) {
          warnings.push({
            pos: pos(entry, key),
            path: h.name,
            message: `"${key}" is a variable, not the connection key "${close}": is it misspelt?`,
          });
        }
      }
      set(entry, direct);
      if (hostVars) set({ ...entry, path: [...entry.path, 'vars'] }, hostVars);
    }
    for (const origin of ['inventory', 'playbook'] as const) for (const block of h.files[origin]) set(block, block.values);
    set(null, extraVars);
    const { connection, proxyJump } = takeConnection(h.name, merged, sshConfig, (key, message) => {
      const block = origin.get(key);
      problems.push({ pos: block ? block.source.pos(block.path) : undefined, path: h.name, message });
    });
    if (proxyJump) {
      // ProxyJump to hosts outside the inventory: bastions of their own, reached but never targeted
      const chain = proxyJumpChain(proxyJump, hosts, sshConfig);
      if (typeof chain === 'string') problems.push({ pos: undefined, path: h.name, message: chain });
      else {
        for (const b of chain.bastions) if (!bastions.has(b.name)) bastions.set(b.name, b);
        connection.jump = chain.first;
      }
    }
    result.set(h.name, { name: h.name, groups: ordered, vars: merged, connection });
    origins.set(h.name, origin);
  }

  for (const host of result.values()) {
    const origin = origins.get(host.name)!;
    const where = (key: string): SourcePosition | undefined => {
      const block = origin.get(key);
      return block ? block.source.pos(block.path) : undefined;
    };
    const jump = host.connection.jump;
    if (jump !== undefined && !result.has(jump) && !bastions.has(jump)) {
      const close = closestMatches(jump, result.keys());
      const hint = close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : '';
      problems.push({ pos: where('jump'), path: host.name, message: `jump host "${jump}" is not in the inventory${hint}` });
    } else if (jump !== undefined && result.has(jump)) {
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
  }
  if (problems.length) throw new InputError(sortProblems(problems));

  const publicGroups = new Map<string, InventoryGroup>();
  for (const g of groups.values()) publicGroups.set(g.name, { name: g.name, hosts: g.hosts, children: g.children });
  publicGroups.get('all')!.hosts = [...result.keys()];
  const inventory: Inventory = { file: name, files, hosts: result, groups: publicGroups, warnings: dedupe(warnings) };
  if (bastions.size) inventory.bastions = bastions;
  return inventory;
}

/** Move the connection keys out of the variables, with defaults: address = name, port 22. */
function takeConnection(
  name: string,
  vars: Record<string, unknown>,
  sshConfig: SshConfigLookup,
  problem: (key: string, message: string) => void,
): { connection: InventoryHost['connection']; proxyJump?: string } {
  const value: Partial<Record<ConnectionKey, unknown>> = {};
  for (const key of CONNECTION_KEYS) {
    if (key in vars) value[key] = vars[key];
    delete vars[key];
  }
  // Ansible's other connection variables: used where hvtune can honour them, refused where it
  // cannot (a run that silently connects differently from Ansible is worse than an error)
  let proxyJump: string | undefined;
  for (const key of ['ansible_ssh_common_args', 'ansible_ssh_extra_args']) {
    if (!(key in vars)) continue;
    const parsed = sshArgs(String(vars[key]));
    delete vars[key];
    if (parsed.error) problem(key, parsed.error);
    else if (parsed.jump) proxyJump = parsed.jump;
  }
  const refuse: Record<string, (v: unknown) => string | null> = {
    ansible_connection: (v) =>
      ['ssh', 'smart', 'paramiko'].includes(String(v)) ? null : `ansible_connection: ${v} is not supported: hvtune connects over SSH`,
    ansible_become_method: (v) =>
      String(v) === 'sudo' ? null : `ansible_become_method: ${v} is not supported: hvtune becomes root with sudo`,
    ansible_become_user: (v) => (String(v) === 'root' ? null : `ansible_become_user: ${v} is not supported: hvtune becomes root`),
    ansible_become_pass: () =>
      'ansible_become_pass is not supported: hvtune keeps no password in an inventory; run with -K to be asked for it once, or allow sudo without one for the user',
    ansible_become_password: () =>
      'ansible_become_password is not supported: hvtune keeps no password in an inventory; run with -K to be asked for it once, or allow sudo without one for the user',
  };
  for (const [key, check] of Object.entries(refuse)) {
    if (!(key in vars)) continue;
    const message = check(vars[key]);
    if (message) problem(key, message);
    delete vars[key];
  }
  // as ssh does: the config's Host blocks match the name the host is reached by
  const alias = (value.address as string | undefined) ?? name;
  const ssh = sshConfig(alias);
  const connection: InventoryHost['connection'] = {
    address: ssh.hostName ?? alias,
    port: (value.port as number | undefined) ?? ssh.port ?? 22,
    user: (value.user as string | undefined) ?? ssh.user ?? defaultUser(),
    become: (value.become as boolean | undefined) ?? false,
  };
  const identity = (value.identity_file as string | undefined) ?? ssh.identityFile;
  if (identity !== undefined) connection.identity_file = identity;
  if (value.password !== undefined) connection.password = value.password as string;
  if (value.jump !== undefined) connection.jump = value.jump as string;
  if (value.reboot_command !== undefined) connection.reboot_command = value.reboot_command as string[];
  // an explicit jump (an inventory host) wins over ProxyJump of ssh arguments, and those over ssh's config
  if (connection.jump !== undefined) return { connection };
  proxyJump ??= ssh.proxyJump;
  return proxyJump ? { connection, proxyJump } : { connection };
}

/** Harmless ssh options of Ansible inventories that hvtune has its own way for (or no need of). */
const IGNORED_SSH_OPTIONS = new Set([
  'stricthostkeychecking',
  'userknownhostsfile',
  'controlmaster',
  'controlpersist',
  'controlpath',
  'serveraliveinterval',
  'serveralivecountmax',
  'connecttimeout',
  'compression',
  'forwardagent',
  'identitiesonly',
  'loglevel',
]);

/** `ansible_ssh_common_args`: the jump host of `-o ProxyJump=…`, `-J …` or `ProxyCommand="ssh -W %h:%p …"`. */
export function sshArgs(text: string): { jump?: string; error?: string } {
  const words =
    text.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g)?.map((w) => w.replace(/^(["'])(.*)\1$/, '$2').replace(/=(["'])(.*)\1$/, '=$2')) ?? [];
  let jump: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '-J') {
      jump = words[++i];
      continue;
    }
    const option = w === '-o' ? words[++i] : w.startsWith('-o') ? w.slice(2) : null;
    if (option === null || option === undefined)
      return { error: `ansible_ssh_common_args: "${w}" is not understood (only -o OPTION=VALUE and -J HOST)` };
    const m = /^([A-Za-z]+)\s*[= ]\s*(.*)$/.exec(option);
    if (!m) return { error: `ansible_ssh_common_args: "-o ${option}" is not understood` };
    const [, name, val] = m;
    if (name.toLowerCase() === 'proxyjump') jump = val;
    else if (name.toLowerCase() === 'proxycommand') {
      const p = /^ssh\s+(?:.*\s)?-W\s*%h:%p(?:\s+(?:-\S+\s+)*)?\s*(?:-q\s+)?(\S+)\s*$/.exec(val.trim());
      const target = p?.[1];
      if (!target || target.startsWith('-'))
        return { error: `ansible_ssh_common_args: ProxyCommand "${val}" is not understood (only ssh -W %h:%p HOST); use ProxyJump` };
      jump = target;
    } else if (!IGNORED_SSH_OPTIONS.has(name.toLowerCase())) {
      return { error: `ansible_ssh_common_args: the ssh option ${name} is not supported by hvtune's SSH client (ProxyJump is)` };
    }
  }
  return jump ? { jump } : {};
}

/**
 * A ProxyJump `[user@]host[:port]`, or a chain `a,b`: inventory hosts are used as they are; others
 * become bastions of their own (with what ssh's config says of them), outside every group.
 */
function proxyJumpChain(
  spec: string,
  hosts: Map<string, unknown>,
  sshConfig: SshConfigLookup,
  depth = 0,
): { first: string; bastions: InventoryHost[] } | string {
  if (depth > 8) return `ProxyJump ${spec}: more than 8 jumps (a loop in the ssh config?)`;
  const bastions: InventoryHost[] = [];
  let previous: string | undefined;
  for (const hop of spec.split(',').map((h) => h.trim())) {
    if (hosts.has(hop)) {
      previous = hop;
      continue;
    }
    const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:@]+)(?::(\d+))?$/.exec(hop);
    if (!m) return `ProxyJump ${JSON.stringify(hop)}: expected [user@]host[:port]`;
    const [, user, host, port] = m;
    const alias = host.replace(/^\[|\]$/g, '');
    const ssh = sshConfig(alias);
    const b: InventoryHost = {
      name: hop,
      groups: [],
      vars: {},
      connection: {
        address: ssh.hostName ?? alias,
        port: port ? Number(port) : (ssh.port ?? 22),
        user: user ?? ssh.user ?? defaultUser(),
        become: false,
      },
    };
    if (ssh.identityFile) b.connection.identity_file = ssh.identityFile;
    if (previous) b.connection.jump = previous;
    else if (ssh.proxyJump) {
      // the bastion's own ProxyJump, from ssh's config
      const inner = proxyJumpChain(ssh.proxyJump, hosts, sshConfig, depth + 1);
      if (typeof inner === 'string') return inner;
      bastions.push(...inner.bastions);
      b.connection.jump = inner.first;
    }
    bastions.push(b);
    previous = hop;
  }
  return { first: previous!, bastions };
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
