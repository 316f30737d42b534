// reboot: make pending boot-time settings live. Usually the last task of a play (or a handler):
// it reboots only when the host has something pending that a reboot makes live (a kernel argument
// in /etc/default/grub not yet in /proc/cmdline, a module to reload), shuts the running libvirt
// domains down first and starts them again after, and the engine then reads the play's earlier
// tasks again: one still pending fails the task. A hypervisor rebooted with running domains is an
// outage, so evacuation is on by default, and a host whose evacuation failed is never rebooted.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Change, HostHandle, Module, Pending, PlanContext, ReadResult } from '../src/module.js';
import { TaskError } from '../src/errors.js';
import { sh } from '../src/quote.js';

export interface RebootArgs {
  /** Reboot only when something a reboot makes live is pending (default true). */
  when_pending?: boolean;
  /** shutdown (default): shut the running domains down first, start them after; none: leave them. */
  evacuate?: 'none' | 'shutdown';
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
  /** A XenServer dom0 (xe is there): its VMs are not libvirt's, and this module cannot move them yet. */
  xen?: boolean;
}

interface RebootData {
  /** The domains the plan saw running: shut down before, started after. */
  domains: string[];
}

/** Pending effects a reboot makes live. */
const RESOLVES: Pending['effect'][] = ['reboot', 'module-reload'];
const DEFAULT_URI = 'qemu:///system';

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
      enum: ['none', 'shutdown'],
      description: 'shutdown (default): virsh shutdown every running domain and wait, start them again after the reboot; none: leave them.',
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

function read(args: RebootArgs) {
  return args.evacuate === 'none' ? [] : [{ kind: 'script' as const, script: domainsScript(uriOf(args)) }];
}

function parse(args: RebootArgs, results: ReadResult[]): RebootObserved {
  if (args.evacuate === 'none') return { domains: [], virshError: null };
  const [r] = results;
  return parseDomains(r && (r.kind === 'script' || r.kind === 'cmd') ? r.stdout : '');
}

function plan(args: RebootArgs, observed: RebootObserved, ctx: PlanContext) {
  const why = (ctx.pending ?? []).filter((p) => RESOLVES.includes(p.effect));
  if ((args.when_pending ?? true) && why.length === 0) return { changes: [] };
  if (observed.xen) {
    // Rebooting a dom0 without moving its VMs is an outage: refuse rather than reboot blind.
    throw new TaskError(
      `${ctx.host}: a XenServer host: its VMs cannot be evacuated by this module yet (xe host-evacuate); evacuate them first and set evacuate: none`,
    );
  }
  if (observed.virshError !== null) {
    throw new TaskError(`${ctx.host}: cannot list the running domains to evacuate (${observed.virshError}); not rebooting`);
  }
  const domains = observed.domains ?? [];
  const reasons = why.length ? why.map((p) => `${p.target}`).join(', ') : 'asked for (when_pending: false)';
  const evacuation = domains.length ? `; shut down ${domains.join(', ')} first and start them again after` : '';
  const change: Change = {
    summary: `reboot ${ctx.host}: ${reasons}${evacuation}`,
    target: `reboot:${ctx.host}`,
    effect: 'reboot',
    before: why.length ? `${why.length} item(s) pending` : 'running',
    after: 'rebooted, pending items live',
    data: { domains } satisfies RebootData,
  };
  return { changes: [change] };
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
  const { domains } = changes[0].data as RebootData;
  // A domain started since the plan would die with the reboot: evacuate what runs now.
  const now = args.evacuate === 'none' ? [] : (parseDomains((await host.sh(domainsScript(uriOf(args)))).stdout).domains ?? domains);
  if (now.length) await shutDown(host, args, now);
  await host.reboot({ timeoutMs: (args.boot_timeout ?? 900) * 1000 });
  if (now.length) await startAgain(host, args, now);
}

export const reboot = {
  name: 'reboot',
  description: 'Reboot when boot-time settings are pending: evacuate the domains, reboot, reconnect, verify every pending item live.',
  schema,
  read,
  parse,
  plan,
  apply,
  resolvesPending: RESOLVES,
} satisfies Module<RebootArgs, RebootObserved>;

export default reboot;
