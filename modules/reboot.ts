// reboot: make pending boot-time settings live. Usually the last task of a play (or a handler):
// it reboots only when the host has something pending that a reboot makes live (a kernel argument
// in /etc/default/grub not yet in /proc/cmdline, a module to reload), evacuates the running libvirt
// domains first — shuts them down and starts them again after, or live-migrates them to peers with
// room, where they stay — and the engine then reads the play's earlier tasks again: one still
// pending fails the task. On a XenServer host the pool evacuates it (xe host-disable, host-evacuate,
// reboot, host-enable). A hypervisor rebooted with running domains is an outage, so evacuation is
// on by default, and a host whose evacuation failed is never rebooted.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Change, HostHandle, Module, Pending, PlanContext, ReadRequest, ReadResult } from '../src/module.js';
import { TaskError } from '../src/errors.js';
import { sh } from '../src/quote.js';
import {
  choosePeers,
  domainNeedsScript,
  parseDomainNeeds,
  parsePeerRoom,
  peerRoomScript,
  type DomainNeed,
  type Migration,
  type PeerRoom,
} from './lib/migration.js';

export interface RebootArgs {
  /** Reboot only when something a reboot makes live is pending (default true). */
  when_pending?: boolean;
  /**
   * shutdown (default): shut the running domains down first, start them after; migrate: live-migrate
   * them to peers (migrate_to) with room, or on a XenServer host let the pool take them (xe
   * host-evacuate); none: leave them.
   */
  evacuate?: 'none' | 'shutdown' | 'migrate';
  /** Host pattern of the peers that may receive the domains (libvirt, evacuate: migrate). */
  migrate_to?: string;
  /** Destination URI per peer; `{peer}` is its inventory name, `{address}` its address. Default qemu+ssh://{address}/system. */
  migrate_uri?: string;
  /** Migrate peer to peer through the libvirt connection (--p2p --tunnelled): no other port between the hosts. */
  migrate_tunnelled?: boolean;
  /** none (default): a failed migration fails the task, no reboot; shutdown: shut down what did not move, reboot, start it again. */
  migrate_fallback?: 'none' | 'shutdown';
  /** libvirt URI (default qemu:///system). */
  uri?: string;
  /** Seconds a domain may take to shut down (default 300); then the task fails, unless allow_destroy. */
  shutdown_timeout?: number;
  /** Force off a domain that does not shut down in time (virsh destroy). Default false. */
  allow_destroy?: boolean;
  /** Seconds until SSH answers again with a new boot id (default 900). */
  boot_timeout?: number;
}

interface RebootObserved {
  /** Running libvirt domains; null when the host has no virsh (nothing to evacuate). */
  domains: string[] | null;
  /** virsh is there but did not answer: evacuation cannot be planned. */
  virshError: string | null;
  /** A XenServer dom0 (xe is there): its VMs are the pool's, not libvirt's. */
  xen?: boolean;
  /** evacuate: migrate on a dom0: this host's uuid (null: unknown) and its running VMs. */
  xenHost?: { uuid: string | null; vms: string[] };
  /** evacuate: migrate: what each running domain needs on its new host. */
  needs?: DomainNeed[];
  /** evacuate: migrate: the peers' room; null when the engine gave no peers (outside a play). */
  peers?: PeerRoom[] | null;
}

interface RebootData {
  /** The domains the plan saw running: shut down before, started after (evacuate: shutdown). */
  domains: string[];
  /** evacuate: migrate: where each goes. */
  migrations?: Migration[];
  /** a XenServer host evacuated by its pool */
  xen?: { uuid: string; vms: string[] };
}

/** Pending effects a reboot makes live. */
const RESOLVES: Pending['effect'][] = ['reboot', 'module-reload'];
const DEFAULT_URI = 'qemu:///system';
const DEFAULT_MIGRATE_URI = 'qemu+ssh://{address}/system';
const URI_PATTERN = '^[A-Za-z0-9+]+://[A-Za-z0-9_./:@?=&%+\\[\\]-]*$';

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    when_pending: {
      type: 'boolean',
      description: 'true (default): reboot only when this run or the host has a pending reboot or module reload; false: always.',
    },
    evacuate: {
      type: 'string',
      enum: ['none', 'shutdown', 'migrate'],
      description:
        'shutdown (default): virsh shutdown every running domain and wait, start them again after the reboot; migrate: virsh migrate --live each to a peer of migrate_to with room (they stay there), on a XenServer host xe host-disable + host-evacuate, then host-enable after the reboot; none: leave them.',
    },
    migrate_to: {
      type: 'string',
      minLength: 1,
      description:
        'Host pattern of the inventory hosts that may receive the domains (evacuate: migrate on libvirt). Never this host nor a host of its batch. Not used on XenServer: the pool chooses.',
    },
    migrate_uri: {
      type: 'string',
      pattern: '^[A-Za-z0-9+]+://[A-Za-z0-9_./:@?=&%+{}\\[\\]-]*$',
      'x-message': 'must be a libvirt URI, with {peer} (inventory name) or {address} for the peer: qemu+ssh://{address}/system',
      description:
        'libvirt URI of a peer as the source host reaches it: {peer} is its inventory name, {address} its address (default qemu+ssh://{address}/system). The source must reach it: ssh keys from the source to the peer, or a socket the operator provides.',
    },
    migrate_tunnelled: {
      type: 'boolean',
      description:
        'true: virsh migrate --p2p --tunnelled (the source libvirtd connects to the peer and carries the memory over that connection: no other port between the hosts). Default false: QEMU connects to the peer directly.',
    },
    migrate_fallback: {
      type: 'string',
      enum: ['none', 'shutdown'],
      description:
        'none (default): a migration that fails fails the task and the host is not rebooted; shutdown: shut down the domains that did not move, reboot, start them again.',
    },
    uri: {
      type: 'string',
      pattern: '^[A-Za-z0-9+]+://[A-Za-z0-9_./:@?=&%+-]*$',
      'x-message': 'must be a libvirt URI such as qemu:///system',
      description: 'libvirt connection URI (default qemu:///system).',
    },
    shutdown_timeout: { type: 'integer', minimum: 1, maximum: 86400, description: 'Seconds for the domains to shut down (default 300).' },
    allow_destroy: {
      type: 'boolean',
      description:
        'Force off (virsh destroy) a domain still running after shutdown_timeout. Default false: the task fails and the host is not rebooted.',
    },
    boot_timeout: {
      type: 'integer',
      minimum: 10,
      maximum: 86400,
      description: 'Seconds until SSH answers again with a new boot id (default 900).',
    },
  },
} as const;

const uriOf = (args: RebootArgs) => args.uri ?? DEFAULT_URI;
const migrating = (args: RebootArgs) => args.evacuate === 'migrate';

function validate(args: RebootArgs) {
  const misplaced = (['migrate_to', 'migrate_uri', 'migrate_tunnelled', 'migrate_fallback'] as const).filter((k) => args[k] !== undefined);
  if (migrating(args) || misplaced.length === 0) return [];
  return misplaced.map((k) => ({ path: k, message: `${k} is used only with evacuate: migrate` }));
}

/** A peer's URI from the migrate_uri template; an IPv6 address goes in brackets. */
function peerUri(args: RebootArgs, peer: { name: string; address: string }): string {
  const address = peer.address.includes(':') ? `[${peer.address}]` : peer.address;
  const uri = (args.migrate_uri ?? DEFAULT_MIGRATE_URI).replaceAll('{peer}', peer.name).replaceAll('{address}', address);
  if (!new RegExp(URI_PATTERN).test(uri))
    throw new TaskError(`migrate_uri for ${peer.name} gives ${JSON.stringify(uri)}, not a libvirt URI`);
  return uri;
}

/** Running domains, one per line after a marker; no marker: no virsh on the host. */
const domainsScript = (uri: string) =>
  sh`command -v xe >/dev/null 2>&1 && echo '::hvtune:: xe'
command -v virsh >/dev/null 2>&1 || exit 0
echo '::hvtune:: virsh'
virsh -q -c ${uri} list --state-running --name 2>&1 || echo '::hvtune:: error'`;

function parseDomains(out: string): RebootObserved {
  const lines = out.split('\n').map((l) => l.trim());
  const xen = lines.includes('::hvtune:: xe');
  if (!lines.includes('::hvtune:: virsh')) return { domains: null, virshError: null, ...(xen ? { xen } : {}) };
  const body = lines.slice(lines.indexOf('::hvtune:: virsh') + 1).filter(Boolean);
  const x = xen ? { xen } : {};
  if (body.includes('::hvtune:: error'))
    return { domains: null, virshError: body.filter((l) => !l.startsWith('::hvtune::')).join(' ') || 'virsh failed', ...x };
  return { domains: body, virshError: null, ...x };
}

/** On a dom0: this host's uuid (INSTALLATION_UUID of /etc/xensource-inventory) and its running VMs. */
const XEN_SCRIPT = `command -v xe >/dev/null 2>&1 || exit 0
u=$(sed -n "s/^INSTALLATION_UUID=['\\"]\\{0,1\\}\\([0-9a-f-]*\\).*/\\1/p" /etc/xensource-inventory 2>/dev/null)
echo "::hvtune:: host $u"
[ -n "$u" ] || exit 0
xe vm-list resident-on="$u" power-state=running is-control-domain=false params=name-label --minimal`;

function read(args: RebootArgs): ReadRequest[] {
  if (args.evacuate === 'none') return [];
  const requests: ReadRequest[] = [{ kind: 'script', script: domainsScript(uriOf(args)) }];
  if (migrating(args)) {
    requests.push({ kind: 'script', script: `command -v virsh >/dev/null 2>&1 || exit 0\n${domainNeedsScript(uriOf(args))}` });
    requests.push({ kind: 'script', script: XEN_SCRIPT });
  }
  return requests;
}

/** Peers for evacuate: migrate on libvirt: their free memory and hugepages, and whether libvirt answers. */
function peerReads(args: RebootArgs, ctx: PlanContext) {
  if (!migrating(args) || args.migrate_to === undefined || !rebootWanted(args, ctx)) return null;
  return { pattern: args.migrate_to, requests: [{ kind: 'script' as const, script: peerRoomScript(uriOf(args)) }] };
}

const stdoutOf = (r: ReadResult | undefined) => (r && (r.kind === 'script' || r.kind === 'cmd') ? r.stdout : '');

function parse(args: RebootArgs, results: ReadResult[], ctx?: PlanContext): RebootObserved {
  if (args.evacuate === 'none') return { domains: [], virshError: null };
  const observed = parseDomains(stdoutOf(results[0]));
  if (!migrating(args)) return observed;
  const host = /^::hvtune:: host ?(\S*)$/m.exec(stdoutOf(results[2]));
  const xenHost = host
    ? {
        uuid: host[1] || null,
        vms: stdoutOf(results[2])
          .split('\n')
          .slice(1)
          .join(',')
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      }
    : undefined;
  return {
    ...observed,
    ...(xenHost ? { xenHost } : {}),
    needs: parseDomainNeeds(stdoutOf(results[1])),
    peers: ctx?.peers ? ctx.peers.map(parsePeerRoom) : null,
  };
}

/** Whether the task reboots: something a reboot makes live is pending, or when_pending is false. */
const rebootWanted = (args: RebootArgs, ctx: PlanContext) =>
  !(args.when_pending ?? true) || (ctx.pending ?? []).some((p) => RESOLVES.includes(p.effect));

function plan(args: RebootArgs, observed: RebootObserved, ctx: PlanContext) {
  const why = (ctx.pending ?? []).filter((p) => RESOLVES.includes(p.effect));
  if (!rebootWanted(args, ctx)) return { changes: [] };
  const reasons = why.length ? why.map((p) => `${p.target}`).join(', ') : 'asked for (when_pending: false)';
  const change = (evacuation: string, data: RebootData, after = 'rebooted, pending items live'): Change => ({
    summary: `reboot ${ctx.host}: ${reasons}${evacuation}`,
    target: `reboot:${ctx.host}`,
    effect: 'reboot',
    before: why.length ? `${why.length} item(s) pending` : 'running',
    after,
    data,
  });
  if (observed.xen) return { changes: [planXen(args, observed, ctx, change)] };
  if (observed.virshError !== null) {
    throw new TaskError(`${ctx.host}: cannot list the running domains to evacuate (${observed.virshError}); not rebooting`);
  }
  const domains = observed.domains ?? [];
  if (migrating(args) && domains.length) {
    const migrations = planMigrations(args, observed, ctx);
    const moves = migrations.map((m) => `${m.domain} to ${m.peer} (${m.why})`).join(', ');
    const fallback = args.migrate_fallback === 'shutdown' ? '; what fails to move is shut down and started again after' : '';
    const where = migrations.map((m) => `${m.domain} on ${m.peer}`).join(', ');
    return {
      changes: [change(`; migrate ${moves} first${fallback}`, { domains, migrations }, `rebooted, pending items live; ${where}`)],
    };
  }
  const evacuation = domains.length ? `; shut down ${domains.join(', ')} first and start them again after` : '';
  return { changes: [change(evacuation, { domains })] };
}

/** A dom0: its pool takes the VMs (xe host-evacuate); there is no shutdown evacuation through xe here. */
function planXen(
  args: RebootArgs,
  observed: RebootObserved,
  ctx: PlanContext,
  change: (evacuation: string, data: RebootData) => Change,
): Change {
  if (args.evacuate === 'none') return change('', { domains: [] });
  if (!migrating(args)) {
    // Rebooting a dom0 without moving its VMs is an outage: refuse rather than reboot blind.
    throw new TaskError(
      `${ctx.host}: a XenServer host: its VMs are moved by the pool with evacuate: migrate (xe host-disable, host-evacuate, host-enable after the reboot); evacuate: shutdown is not done through xe; or evacuate them first and set evacuate: none`,
    );
  }
  const uuid = observed.xenHost?.uuid;
  if (!uuid)
    throw new TaskError(
      `${ctx.host}: a XenServer host whose uuid is unknown (INSTALLATION_UUID in /etc/xensource-inventory); not rebooting`,
    );
  const vms = observed.xenHost?.vms ?? [];
  const moves = vms.length ? ` and move ${vms.join(', ')} to other hosts of the pool (xe host-evacuate)` : '';
  return change(`; disable it in the pool${moves} first, enable it after`, { domains: [], xen: { uuid, vms } });
}

/** Where each running domain goes; a domain with no peer with room fails the task (nothing moves). */
function planMigrations(args: RebootArgs, observed: RebootObserved, ctx: PlanContext): Migration[] {
  if (args.migrate_to === undefined)
    throw new TaskError(`${ctx.host}: evacuate: migrate needs migrate_to, the hosts that may receive the domains`);
  if (!observed.peers) {
    throw new TaskError(`${ctx.host}: evacuate: migrate chooses among the inventory's hosts, which only hvtune play reads; not rebooting`);
  }
  if (observed.peers.length === 0) {
    throw new TaskError(
      `${ctx.host}: migrate_to "${args.migrate_to}" names no host outside this host's batch (hosts of one batch reboot at the same time); not rebooting`,
    );
  }
  const running = new Set(observed.domains ?? []);
  const needs = (observed.needs ?? []).filter((n) => running.has(n.name));
  for (const d of running) if (!needs.some((n) => n.name === d)) needs.push({ name: d, memoryKiB: 0, hugepages: null });
  try {
    return choosePeers(needs, observed.peers, (peer) => peerUri(args, peer));
  } catch (err) {
    if (err instanceof TaskError) throw err;
    throw new TaskError(`${ctx.host}: ${(err as Error).message}; not rebooting`);
  }
}

async function domainState(host: HostHandle, uri: string, domain: string): Promise<string> {
  const r = await host.exec(['virsh', '-q', '-c', uri, 'domstate', '--domain', domain]);
  return r.code === 0 ? r.stdout.trim() : `unknown (${r.stderr.trim()})`;
}

/** Shut the domains down and wait; force off only with allow_destroy. Throws naming those still up. */
async function shutDown(host: HostHandle, args: RebootArgs, domains: string[]): Promise<void> {
  const uri = uriOf(args);
  for (const d of domains) await host.run(['virsh', '-q', '-c', uri, 'shutdown', '--domain', d]);
  const deadline = Date.now() + (args.shutdown_timeout ?? 300) * 1000;
  let up = domains;
  while (up.length && Date.now() < deadline) {
    await sleep(1_000);
    const states = await Promise.all(up.map((d) => domainState(host, uri, d)));
    up = up.filter((_, i) => states[i] !== 'shut off');
  }
  if (up.length && args.allow_destroy) {
    for (const d of up) await host.run(['virsh', '-q', '-c', uri, 'destroy', '--domain', d]);
    up = [];
  }
  if (up.length) {
    await startAgain(
      host,
      args,
      domains.filter((d) => !up.includes(d)),
    );
    throw new TaskError(
      `${host.name}: ${up.join(', ')} did not shut down within ${args.shutdown_timeout ?? 300} s; not rebooting (the others were started again; allow_destroy: true forces them off)`,
    );
  }
}

/** After a boot libvirtd may still be starting: wait until it answers (2 minutes at most). */
async function libvirtAnswers(host: HostHandle, uri: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await host.exec(['virsh', '-q', '-c', uri, 'list', '--name']);
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new TaskError(`${host.name}: libvirt did not answer after the reboot: ${r.stderr.trim()}`);
    await sleep(1_000);
  }
}

async function startAgain(host: HostHandle, args: RebootArgs, domains: string[]): Promise<void> {
  const uri = uriOf(args);
  await libvirtAnswers(host, uri);
  const failed: string[] = [];
  for (const d of domains) {
    // autostart may have started it already
    if ((await domainState(host, uri, d)) === 'running') continue;
    const r = await host.exec(['virsh', '-q', '-c', uri, 'start', '--domain', d]);
    if (r.code !== 0) failed.push(`${d}: ${r.stderr.trim()}`);
  }
  if (failed.length) throw new TaskError(`${host.name}: domains not started again: ${failed.join('; ')}`);
}

async function apply(changes: Change[], host: HostHandle, args: RebootArgs): Promise<void> {
  if (!host.reboot) throw new TaskError(`${host.name}: this connection cannot reboot the host and reconnect`);
  const data = changes[0].data as RebootData;
  const timeoutMs = (args.boot_timeout ?? 900) * 1000;
  if (data.xen) return rebootXen(host, data.xen, timeoutMs);
  // A domain started since the plan would die with the reboot: evacuate what runs now.
  const now = args.evacuate === 'none' ? [] : (parseDomains((await host.sh(domainsScript(uriOf(args)))).stdout).domains ?? data.domains);
  const stay = data.migrations ? await migrateAll(host, args, data.migrations, now) : now;
  if (stay.length) await shutDown(host, args, stay);
  await host.reboot({ timeoutMs });
  if (stay.length) await startAgain(host, args, stay);
}

/**
 * Live-migrate each planned domain to its peer. Returns the domains to shut down instead (those
 * started since the plan or whose migration failed) when migrate_fallback is shutdown; otherwise
 * either is an error, and the host is not rebooted. Domains moved stay where they went.
 */
async function migrateAll(host: HostHandle, args: RebootArgs, migrations: Migration[], running: string[]): Promise<string[]> {
  const fallback = args.migrate_fallback === 'shutdown';
  const uri = uriOf(args);
  const unplanned = running.filter((d) => !migrations.some((m) => m.domain === d));
  if (unplanned.length && !fallback) {
    throw new TaskError(`${host.name}: ${unplanned.join(', ')} started since the plan, no peer was chosen for them; not rebooting`);
  }
  const moved: string[] = [];
  const left = [...unplanned];
  for (const [i, m] of migrations.entries()) {
    if (!running.includes(m.domain)) continue; // stopped since the plan: nothing to move
    const tunnel = args.migrate_tunnelled ? ['--p2p', '--tunnelled'] : [];
    const r = await host.exec([
      'virsh',
      '-q',
      '-c',
      uri,
      'migrate',
      '--live',
      ...tunnel,
      '--persistent',
      '--undefinesource',
      m.domain,
      m.uri,
    ]);
    // read back: a migrated domain no longer runs here
    const stillHere = r.code === 0 && (await domainState(host, uri, m.domain)) === 'running';
    if (r.code !== 0 || stillHere) {
      const error = r.code !== 0 ? r.stderr.trim() || `exit ${r.code}` : 'virsh said it moved, but it still runs here';
      if (!fallback) {
        const done = moved.length ? ` (moved before it: ${moved.join(', ')})` : '';
        throw new TaskError(`${host.name}: migrating ${m.domain} to ${m.peer} failed: ${error}; not rebooting${done}`);
      }
      left.push(
        ...migrations
          .slice(i)
          .map((x) => x.domain)
          .filter((d) => running.includes(d)),
      );
      break;
    }
    moved.push(`${m.domain} → ${m.peer}`);
  }
  return left;
}

/** xe commands on this host's uuid; a failure throws naming the command. */
async function xe(host: HostHandle, words: string[]): Promise<string> {
  const r = await host.exec(['xe', ...words]);
  if (r.code !== 0) throw new TaskError(`${host.name}: xe ${words.join(' ')} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/**
 * A XenServer host: disabled first (the pool starts nothing new on it), evacuated by the pool, then
 * rebooted, and enabled again once XAPI answers. An evacuation that fails enables it again and
 * never reboots.
 */
async function rebootXen(host: HostHandle, xen: { uuid: string }, timeoutMs: number): Promise<void> {
  const self = `uuid=${xen.uuid}`;
  await xe(host, ['host-disable', self]);
  try {
    await xe(host, ['host-evacuate', self]);
    const left = (
      await xe(host, ['vm-list', `resident-on=${xen.uuid}`, 'power-state=running', 'is-control-domain=false', '--minimal'])
    ).trim();
    if (left) throw new TaskError(`${host.name}: VMs still running here after xe host-evacuate: ${left}`);
  } catch (err) {
    await host.exec(['xe', 'host-enable', self]);
    throw new TaskError(`${(err as Error).message}; not rebooting (the host was enabled again)`);
  }
  await host.reboot!({ timeoutMs });
  // XAPI starts after sshd: wait until it answers (2 minutes at most)
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await host.exec(['xe', 'host-enable', self]);
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new TaskError(`${host.name}: xe host-enable after the reboot failed: ${r.stderr.trim()}`);
    await sleep(1_000);
  }
}

export const reboot = {
  name: 'reboot',
  description:
    'Reboot when boot-time settings are pending: evacuate the domains (shut down and start after, or live-migrate to peers with room; on XenServer the pool takes them), reboot, reconnect, verify every pending item live.',
  schema,
  validate,
  read,
  peerReads,
  parse,
  plan,
  apply,
  resolvesPending: RESOLVES,
} satisfies Module<RebootArgs, RebootObserved>;

export default reboot;
