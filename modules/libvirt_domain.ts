// libvirt_domain: the `virsh edit` of hvtune. Patches only the declared elements of a domain's
// persistent XML, shows the patch as a diff of the canonical XML, applies what libvirt can change
// on a running domain with `--live --config`, and reports the rest as a pending VM restart.

import type { Change, HostHandle, Module, Pending, PlanResult, ReadRequest, ReadResult } from '../src/module.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { globMatch, isGlob } from '../src/glob.js';
import { sh } from '../src/quote.js';
import { cpusMissing } from './lib/cpuset.js';
import {
  canonicalXml,
  describeMatch,
  findDevice,
  parseDomainXml,
  patchItems,
  serializeDomainXml,
  vcpuCounts,
  type DomainTuning,
  type LiveTuning,
  type PatchItem,
} from './lib/domain-xml.js';
import { libvirtDomainSchema } from './lib/libvirt-domain-schema.js';
import { resolveRelativeMemory } from './lib/relative-memory.js';
import { BLKIO_WEIGHT } from './lib/risky-settings.js';

export interface LibvirtDomainArgs extends DomainTuning {
  name: string | string[];
  restart?: 'never' | 'if-needed';
  shutdown_timeout?: number;
  allow_destroy?: boolean;
  uri?: string;
}

export interface DomainObserved {
  name: string;
  state: string;
  /** `virsh dumpxml --inactive`: what the next start uses. */
  persisted: string;
  /** `virsh dumpxml` of a running (or paused) domain; null when shut off. */
  live: string | null;
}

export interface LibvirtDomainObserved {
  /** virsh could not list domains (libvirtd down, no virsh): the message. */
  error: string | null;
  hostCpus: string | null;
  hostNodes: string | null;
  names: string[];
  domains: DomainObserved[];
}

type ChangeData =
  | { op: 'define'; domain: string; xml: string; original: string }
  | { op: 'live'; domain: string; key: string; argv: string[] }
  | { op: 'restart'; domain: string; timeoutSeconds: number; allowDestroy: boolean };

const DEFAULT_URI = 'qemu:///system';
const DEFAULT_SHUTDOWN_TIMEOUT = 120;
/** The kernel's tun device (MAX_TAP_QUEUES) gives a tap at most 256 queues. */
const MAX_TAP_QUEUES = 256;
const MARK = '::hvtune::';

const virsh = (args: LibvirtDomainArgs) => ['virsh', '-q', '-c', args.uri ?? DEFAULT_URI];
const names = (args: LibvirtDomainArgs) => (Array.isArray(args.name) ? args.name : [args.name]);

function read(args: LibvirtDomainArgs): ReadRequest[] {
  const uri = args.uri ?? DEFAULT_URI;
  // One round trip for every matching domain. `case $d in $p)` uses each quoted pattern as a
  // pattern, never as shell code; domain names stay inside "$d".
  const script = sh`LC_ALL=C; export LC_ALL; uri=${uri}
echo '::hvtune:: cpus'; cat /sys/devices/system/cpu/online 2>/dev/null
echo '::hvtune:: nodes'; cat /sys/devices/system/node/online 2>/dev/null
if ! all=$(virsh -q -c "$uri" list --all --name 2>&1); then echo '::hvtune:: error'; printf '%s\\n' "$all"; exit 0; fi
echo '::hvtune:: domains'; printf '%s\\n' "$all"
printf '%s\\n' "$all" | while IFS= read -r d; do
  [ -n "$d" ] || continue
  for p in ${names(args)}; do
    case $d in $p)
      state=$(virsh -q -c "$uri" domstate --domain "$d" 2>&1)
      echo '::hvtune:: domain'; printf '%s\\n%s\\n' "$d" "$state"
      echo '::hvtune:: persisted'; virsh -q -c "$uri" dumpxml --inactive --domain "$d" 2>&1
      if [ "$state" != "shut off" ]; then echo '::hvtune:: live'; virsh -q -c "$uri" dumpxml --domain "$d" 2>&1; fi
      break;;
    esac
  done
done`;
  return [{ kind: 'script', script }];
}

/** Section markers are whole lines; a domain's XML runs to its closing `</domain>` line. */
export function parseReadOutput(stdout: string): LibvirtDomainObserved {
  const out: LibvirtDomainObserved = { error: null, hostCpus: null, hostNodes: null, names: [], domains: [] };
  const sections: { name: string; lines: string[] }[] = [];
  let inXml = false;
  for (const line of stdout.split('\n')) {
    const cur = sections[sections.length - 1];
    if (inXml) {
      cur.lines.push(line);
      if (line === '</domain>') inXml = false;
      continue;
    }
    if (line.startsWith(`${MARK} `)) {
      sections.push({ name: line.slice(MARK.length + 1).trim(), lines: [] });
      continue;
    }
    if (!cur) continue;
    cur.lines.push(line);
    if ((cur.name === 'persisted' || cur.name === 'live') && cur.lines.length === 1 && line.startsWith('<domain')) inXml = true;
  }
  const body = (s: { lines: string[] }) => s.lines.join('\n').trim();
  for (const s of sections) {
    const dom = out.domains[out.domains.length - 1];
    if (s.name === 'cpus') out.hostCpus = body(s) || null;
    else if (s.name === 'nodes') out.hostNodes = body(s) || null;
    else if (s.name === 'error') out.error = body(s) || 'virsh failed';
    else if (s.name === 'domains') out.names = s.lines.map((l) => l.trim()).filter(Boolean);
    else if (s.name === 'domain') out.domains.push({ name: s.lines[0] ?? '', state: (s.lines[1] ?? '').trim(), persisted: '', live: null });
    else if (s.name === 'persisted' && dom) dom.persisted = s.lines.join('\n').replace(/\n*$/, '\n');
    else if (s.name === 'live' && dom) dom.live = s.lines.join('\n').replace(/\n*$/, '\n');
  }
  return out;
}

function parse(_args: LibvirtDomainArgs, results: ReadResult[]): LibvirtDomainObserved {
  const r = results[0];
  return parseReadOutput(r && 'stdout' in r ? r.stdout : '');
}

/** Parse XML read from the host; a failed dumpxml prints an error instead of XML. */
function hostXml(domain: string, which: string, text: string) {
  try {
    return parseDomainXml(text);
  } catch {
    throw new TaskError(`${domain}: cannot read the ${which} XML: ${text.trim().split('\n')[0] || 'empty output'}`);
  }
}

function checkHostResources(args: LibvirtDomainArgs, obs: LibvirtDomainObserved): void {
  const pins: [string, string][] = Object.entries(args.cputune?.vcpupin ?? {}).map(([v, c]) => [`vcpupin ${v}`, String(c)]);
  if (args.cputune?.emulatorpin !== undefined) pins.push(['emulatorpin', args.cputune.emulatorpin]);
  for (const [what, cpuset] of pins) {
    const missing = obs.hostCpus === null ? '' : cpusMissing(cpuset, obs.hostCpus);
    if (missing) throw new TaskError(`${what}: CPU ${missing} is not online on this host (online CPUs: ${obs.hostCpus})`);
  }
  const nodeset = args.numatune?.nodeset;
  if (nodeset !== undefined && obs.hostNodes !== null) {
    const missing = cpusMissing(nodeset, obs.hostNodes);
    if (missing) throw new TaskError(`numatune nodeset: NUMA node ${missing} does not exist on this host (nodes: ${obs.hostNodes})`);
  }
}

function selectDomains(args: LibvirtDomainArgs, obs: LibvirtDomainObserved, warnings: string[]): DomainObserved[] {
  for (const pattern of names(args)) {
    // The host's `case` picked these domains with the same pattern; this says which pattern found none.
    const glob = isGlob(pattern);
    const hits = obs.domains.filter((d) => (glob ? globMatch(pattern, d.name) : d.name === pattern));
    if (hits.length > 0) continue;
    if (glob) warnings.push(`no domain matches ${pattern}`);
    else throw new TaskError(`unknown domain ${JSON.stringify(pattern)} (domains on this host: ${obs.names.join(', ') || 'none'})`);
  }
  return obs.domains;
}

function checkPatched(domain: string, args: LibvirtDomainArgs, doc: ReturnType<typeof parseDomainXml>): void {
  const counts = vcpuCounts(doc);
  if (!counts) return;
  for (const vcpu of Object.keys(args.cputune?.vcpupin ?? {})) {
    if (Number(vcpu) >= counts.max)
      throw new TaskError(`${domain}: vcpupin ${vcpu}: the domain has ${counts.max} vCPUs (0-${counts.max - 1})`);
  }
  for (const nic of args.interfaces ?? []) {
    const q = nic.driver?.queues;
    if (q === undefined) continue;
    if (q > MAX_TAP_QUEUES)
      throw new TaskError(
        `${domain}: ${describeMatch('interface', nic.match)}: queues ${q} is above the ${MAX_TAP_QUEUES} queues a tap device supports`,
      );
    if (q > counts.current)
      throw new TaskError(
        `${domain}: ${describeMatch('interface', nic.match)}: queues ${q} is above the domain's ${counts.current} vCPUs (use at most one queue per vCPU)`,
      );
  }
}

export function liveArgv(args: LibvirtDomainArgs, domain: string, live: LiveTuning, value: string): string[] {
  const base = [...virsh(args)];
  const tail = ['--live', '--config'];
  switch (live.kind) {
    case 'vcpupin':
      return [...base, 'vcpupin', '--domain', domain, '--vcpu', String(live.vcpu), '--cpulist', value, ...tail];
    case 'emulatorpin':
      return [...base, 'emulatorpin', '--domain', domain, '--cpulist', value, ...tail];
    case 'shares':
      return [...base, 'schedinfo', '--domain', domain, '--set', `cpu_shares=${value}`, ...tail];
    case 'blkiotune-weight':
      return [...base, 'blkiotune', '--domain', domain, '--weight', value, ...tail];
    case 'memtune':
      return [...base, 'memtune', '--domain', domain, `--${live.field.replace(/_/g, '-')}`, value, ...tail];
  }
}

/** The settings of `args` for one domain; `doc` is that domain's XML (relative memory limits). */
function itemsOf(args: LibvirtDomainArgs, doc: ReturnType<typeof parseDomainXml>, domain: string): PatchItem[] {
  try {
    return patchItems(resolveRelativeMemory(args, doc, domain));
  } catch (e) {
    throw new TaskError((e as Error).message);
  }
}

function planDomain(args: LibvirtDomainArgs, dom: DomainObserved, changes: Change[], pending: Pending[]): void {
  const persisted = hostXml(dom.name, 'persistent', dom.persisted);
  const items = itemsOf(args, persisted, dom.name);
  for (const dev of [
    ...(args.interfaces ?? []).map((i) => ['interface', i.match] as const),
    ...(args.disks ?? []).map((d) => ['disk', d.match] as const),
  ]) {
    if (!findDevice(persisted, dev[0], dev[1])) throw new TaskError(`${dom.name}: no ${describeMatch(dev[0], dev[1])} in the domain`);
  }
  const patched = parseDomainXml(dom.persisted);
  const differing = items.filter((it) => it.get(persisted) !== it.desired);
  for (const it of differing) it.set(patched);
  checkPatched(dom.name, args, patched);
  if (differing.length > 0) {
    changes.push({
      summary: `define ${dom.name} with ${differing.map((it) => it.key).join(', ')}`,
      target: `domain:${dom.name}`,
      effect: 'persistent',
      diff: { path: `domain:${dom.name} (persistent XML)`, before: canonicalXml(persisted), after: canonicalXml(patched) },
      data: { op: 'define', domain: dom.name, xml: serializeDomainXml(patched), original: dom.persisted } satisfies ChangeData,
    });
  }
  if (dom.live === null) return;
  const live = hostXml(dom.name, 'live', dom.live);
  const needRestart: string[] = [];
  for (const it of items) {
    const now = it.get(live);
    if (now === it.desired) continue;
    if (!it.live) {
      needRestart.push(it.key);
      continue;
    }
    changes.push({
      summary: `set ${it.key} of running ${dom.name}`,
      target: `domain:${dom.name}/${it.key}`,
      effect: 'live',
      before: now,
      after: it.desired,
      data: { op: 'live', domain: dom.name, key: it.key, argv: liveArgv(args, dom.name, it.live, it.desired) } satisfies ChangeData,
    });
  }
  if (needRestart.length === 0) return;
  if (args.restart === 'if-needed') {
    const timeout = args.shutdown_timeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
    changes.push({
      summary: `restart ${dom.name} (shut down, wait ${timeout} s${args.allow_destroy ? ', then force off' : ''}, start) for ${needRestart.join(', ')}`,
      target: `domain:${dom.name}`,
      effect: 'vm-restart',
      data: { op: 'restart', domain: dom.name, timeoutSeconds: timeout, allowDestroy: args.allow_destroy === true } satisfies ChangeData,
    });
  } else {
    pending.push({
      effect: 'vm-restart',
      target: `domain:${dom.name}`,
      summary: `${dom.name} runs without ${needRestart.join(', ')} until it is shut down and started again`,
    });
  }
}

function plan(args: LibvirtDomainArgs, obs: LibvirtDomainObserved): PlanResult {
  if (obs.error !== null) throw new TaskError(`cannot list libvirt domains (${args.uri ?? DEFAULT_URI}): ${obs.error.split('\n')[0]}`);
  checkHostResources(args, obs);
  const warnings: string[] = args.blkiotune?.weight !== undefined ? [BLKIO_WEIGHT] : [];
  const changes: Change[] = [];
  const pending: Pending[] = [];
  for (const dom of selectDomains(args, obs, warnings)) planDomain(args, dom, changes, pending);
  return { changes, pending, warnings };
}

// ---- apply ----------------------------------------------------------------------------------

async function dumpXml(host: HostHandle, args: LibvirtDomainArgs, domain: string, inactive: boolean) {
  const r = await host.run([...virsh(args), 'dumpxml', ...(inactive ? ['--inactive'] : []), '--domain', domain]);
  return parseDomainXml(r.stdout);
}

/** Read the domain back and check every setting of `args` (only `key`, when given). */
async function verify(host: HostHandle, args: LibvirtDomainArgs, domain: string, key: string | null, inactive: boolean, hint: string) {
  const doc = await dumpXml(host, args, domain, inactive);
  const items = itemsOf(args, doc, domain).filter((it) => key === null || it.key === key);
  const wrong = items.find((it) => it.get(doc) !== it.desired);
  if (wrong) throw new ApplyVerifyError(host.name, `domain:${domain}/${wrong.key}`, wrong.desired, wrong.get(doc), hint);
}

async function define(host: HostHandle, args: LibvirtDomainArgs, d: Extract<ChangeData, { op: 'define' }>) {
  // The XML goes on stdin: a file of a predictable name in /tmp could be a link planted by anyone.
  const defineFrom = async (xml: string) => {
    await host.run([...virsh(args), 'define', '--file', '/dev/stdin'], { stdin: xml });
  };
  await defineFrom(d.xml);
  try {
    await verify(host, args, d.domain, null, true, 'libvirt dropped or rewrote this element; the previous definition was restored');
  } catch (e) {
    await defineFrom(d.original);
    throw e;
  }
}

async function restart(host: HostHandle, args: LibvirtDomainArgs, d: Extract<ChangeData, { op: 'restart' }>) {
  const state = async () => (await host.run([...virsh(args), 'domstate', '--domain', d.domain])).stdout.trim();
  if ((await state()) !== 'shut off') {
    await host.run([...virsh(args), 'shutdown', '--domain', d.domain]);
    const deadline = Date.now() + d.timeoutSeconds * 1000;
    while ((await state()) !== 'shut off' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
    if ((await state()) !== 'shut off') {
      if (!d.allowDestroy) {
        throw new TaskError(
          `${d.domain} did not shut down within ${d.timeoutSeconds} s; its new definition waits for the next start (allow_destroy: true forces it off)`,
        );
      }
      await host.run([...virsh(args), 'destroy', '--domain', d.domain]);
    }
  }
  await host.run([...virsh(args), 'start', '--domain', d.domain]);
  await verify(host, args, d.domain, null, false, 'the restarted domain does not run with its definition');
}

const ORDER: Record<ChangeData['op'], number> = { define: 0, live: 1, restart: 2 };

async function apply(changes: Change[], host: HostHandle, args: LibvirtDomainArgs): Promise<void> {
  const ops = changes.map((c) => c.data as ChangeData).sort((a, b) => ORDER[a.op] - ORDER[b.op]);
  for (const op of ops) {
    if (op.op === 'define') await define(host, args, op);
    else if (op.op === 'restart') await restart(host, args, op);
    else {
      await host.run(op.argv);
      await verify(host, args, op.domain, op.key, false, 'virsh accepted the live change but the running domain does not show it');
    }
  }
}

export const libvirt_domain = {
  name: 'libvirt_domain',
  description:
    'Element-level tuning of libvirt domain XML (cputune, numatune, hugepages, CPU mode, virtio queues, disk cache) plus live tuning through virsh',
  schema: libvirtDomainSchema,
  read,
  parse,
  plan,
  apply,
} satisfies Module<LibvirtDomainArgs, LibvirtDomainObserved>;

export default libvirt_domain;
