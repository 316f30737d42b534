// libvirt_domain: the `virsh edit` of hvtune. Patches only the declared elements of a domain's
// persistent XML, shows the patch as a diff of the canonical XML, applies what libvirt can change
// on a running domain with `--live --config`, and reports the rest as a pending VM restart.

import type { Change, HostHandle, Module, Pending, PlanResult, ReadRequest, ReadResult } from '../src/module.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { globMatch, isGlob } from '../src/glob.js';
import { sh } from '../src/quote.js';
import { cpusMissing, parseCpuset } from './lib/cpuset.js';
import {
  canonicalXml,
  describeMatch,
  describePciSource,
  domainMemoryKiB,
  findDevice,
  numaCells,
  parseDomainXml,
  patchItems,
  serializeDomainXml,
  vcpuCounts,
  type DomainTuning,
  type LiveTuning,
  type PatchItem,
  type PciSource,
} from './lib/domain-xml.js';
import { isPciAddress, vfAddress } from './lib/sriov.js';
import { libvirtDomainSchema } from './lib/libvirt-domain-schema.js';
import { blkioWeightScheduler } from './lib/cross/blkio-weight-scheduler.js';
import { memtuneHardLimit } from './lib/cross/memtune-hard-limit.js';
import { numatuneHugepages } from './lib/cross/numatune-hugepages.js';
import { pinningDaemons } from './lib/cross/pinning-daemons.js';
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
  /** `PF/VF` → what the host shows of that VF's PCI address (only for VFs the task names). */
  vfs?: Record<string, VfLookup>;
}

export interface VfLookup {
  /** The device/virtfnN link's target: the VF exists. */
  link: string | null;
  /** The PF's PCI address and SR-IOV capability, to compute the address of a VF not created yet. */
  pf: string | null;
  offset: number | null;
  stride: number | null;
  total: number | null;
}

/** `PF/VF` → PCI address, as the plan resolved them: apply checks against the same addresses. */
type VfAddresses = Record<string, string>;

type ChangeData = (
  | { op: 'define'; domain: string; xml: string; original: string }
  | { op: 'live'; domain: string; key: string; argv: string[] }
  | { op: 'restart'; domain: string; timeoutSeconds: number; allowDestroy: boolean }
) & { vfAddresses?: VfAddresses };

const DEFAULT_URI = 'qemu:///system';
const DEFAULT_SHUTDOWN_TIMEOUT = 120;
/** The kernel's tun device (MAX_TAP_QUEUES) gives a tap at most 256 queues. */
const MAX_TAP_QUEUES = 256;
const MARK = '::hvtune::';
const COALESCE_TYPES = ['network', 'bridge'];

const virsh = (args: LibvirtDomainArgs) => ['virsh', '-q', '-c', args.uri ?? DEFAULT_URI];
const names = (args: LibvirtDomainArgs) => (Array.isArray(args.name) ? args.name : [args.name]);
const vfKey = (pf: string, vf: number) => `${pf}/${vf}`;

/** Every VF of a PF the task names (hostdevs, hostdev interfaces), once each. */
function namedVfs(args: LibvirtDomainArgs): { pf: string; vf: number }[] {
  const sources: PciSource[] = [
    ...(args.hostdevs ?? []),
    ...(args.interfaces ?? []).flatMap((i) => (i.source && !('dev' in i.source) ? [i.source] : [])),
  ];
  const seen = new Map<string, { pf: string; vf: number }>();
  for (const s of sources) if ('pf' in s) seen.set(vfKey(s.pf, s.vf), { pf: s.pf, vf: s.vf });
  return [...seen.values()];
}

function read(args: LibvirtDomainArgs): ReadRequest[] {
  const uri = args.uri ?? DEFAULT_URI;
  // One round trip for every matching domain. `case $d in $p)` uses each quoted pattern as a
  // pattern, never as shell code; domain names stay inside "$d".
  const script = sh`LC_ALL=C; export LC_ALL; uri=${uri}
echo '::hvtune:: cpus'; cat /sys/devices/system/cpu/online 2>/dev/null
echo '::hvtune:: nodes'; cat /sys/devices/system/node/online 2>/dev/null
for pv in ${namedVfs(args).map((v) => `${v.pf}/${v.vf}`)}; do
  pf=\${pv%/*}; vf=\${pv#*/}; d=/sys/class/net/$pf/device
  echo '::hvtune:: vf'; printf 'key=%s\\n' "$pv"
  t=$(readlink "$d/virtfn$vf" 2>/dev/null) && printf 'link=%s\\n' "\${t##*/}"
  sed -n 's/^PCI_SLOT_NAME=/pf=/p' "$d/uevent" 2>/dev/null
  for f in offset stride totalvfs; do v=$(cat "$d/sriov_$f" 2>/dev/null) && printf '%s=%s\\n' "$f" "$v"; done
done
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
    else if (s.name === 'vf') {
      const kv = Object.fromEntries(s.lines.map((l) => /^([a-z]+)=(.*)$/.exec(l.trim())).flatMap((m) => (m ? [[m[1], m[2]]] : [])));
      const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
      if (kv.key) {
        out.vfs ??= {};
        out.vfs[kv.key] = {
          link: kv.link?.toLowerCase() || null,
          pf: kv.pf?.toLowerCase() || null,
          offset: num(kv.offset),
          stride: num(kv.stride),
          total: num(kv.totalvfs),
        };
      }
    }
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
  const vcpuSet = args.vcpu_placement?.cpuset;
  if (vcpuSet !== undefined && obs.hostCpus !== null) {
    const missing = cpusMissing(vcpuSet, obs.hostCpus);
    if (missing) throw new TaskError(`vcpu_placement cpuset: CPU ${missing} is not online on this host (online CPUs: ${obs.hostCpus})`);
  }
  const nodesets: [string, string][] = [];
  if (args.numatune?.nodeset !== undefined) nodesets.push(['numatune nodeset', args.numatune.nodeset]);
  for (const mn of args.numatune?.memnode ?? [])
    if (mn.nodeset !== undefined) nodesets.push([`numatune memnode ${mn.cellid} nodeset`, mn.nodeset]);
  for (const [what, nodeset] of nodesets) {
    if (obs.hostNodes === null) continue;
    const missing = cpusMissing(nodeset, obs.hostNodes);
    if (missing) throw new TaskError(`${what}: NUMA node ${missing} does not exist on this host (nodes: ${obs.hostNodes})`);
  }
}

/** The PCI address of each VF the task names, from the host's sysfs; an error names what is missing. */
function resolveVfs(args: LibvirtDomainArgs, obs: LibvirtDomainObserved): VfAddresses {
  const out: VfAddresses = {};
  for (const { pf, vf } of namedVfs(args)) {
    const seen = obs.vfs?.[vfKey(pf, vf)];
    if (seen?.link) {
      out[vfKey(pf, vf)] = seen.link;
      continue;
    }
    if (!seen || seen.total === null)
      throw new TaskError(`VF ${vf} of ${pf}: ${pf} does not offer SR-IOV here (no /sys/class/net/${pf}/device/sriov_totalvfs)`);
    if (vf >= seen.total) throw new TaskError(`VF ${vf} of ${pf}: ${pf} offers at most ${seen.total} VFs (0-${seen.total - 1})`);
    if (!seen.pf || !isPciAddress(seen.pf) || seen.offset === null || seen.stride === null)
      throw new TaskError(`VF ${vf} of ${pf}: no virtfn${vf} link and no SR-IOV offset/stride to compute its PCI address`);
    // Not created yet (an earlier sriov task creates it): the kernel will number it this way.
    out[vfKey(pf, vf)] = vfAddress(seen.pf, seen.offset, seen.stride, vf);
  }
  return out;
}

const resolverOf = (addresses: VfAddresses) => (src: PciSource) => {
  if ('pci' in src) return src.pci.toLowerCase();
  const pci = addresses[vfKey(src.pf, src.vf)];
  if (!pci) throw new TaskError(`${describePciSource(src)}: its PCI address was not read from the host`);
  return pci;
};

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

function checkNuma(domain: string, args: LibvirtDomainArgs, doc: ReturnType<typeof parseDomainXml>, maxVcpus: number): void {
  const cells = numaCells(doc);
  if (args.cpu?.numa !== undefined) {
    const ids = cells.map((c) => c.id).sort((a, b) => a - b);
    if (ids.some((id, i) => id !== i))
      throw new TaskError(`${domain}: cpu numa: cell ids must be 0, 1, 2… without gaps (got ${ids.join(', ')})`);
    const owner = new Map<number, number>();
    for (const c of cells) {
      for (const cpu of parseCpuset(c.cpus)) {
        if (cpu >= maxVcpus)
          throw new TaskError(
            `${domain}: cpu numa cell ${c.id}: vCPU ${cpu} does not exist (the domain has ${maxVcpus} vCPUs: 0-${maxVcpus - 1})`,
          );
        if (owner.has(cpu)) throw new TaskError(`${domain}: cpu numa: vCPU ${cpu} is in cell ${owner.get(cpu)} and cell ${c.id}`);
        owner.set(cpu, c.id);
      }
    }
    const total = cells.reduce((sum, c) => sum + c.kib, 0);
    const memory = domainMemoryKiB(doc);
    if (memory !== null && total !== memory)
      throw new TaskError(
        `${domain}: cpu numa: the cells hold ${total} KiB but the domain has ${memory} KiB of memory (libvirt would resize the domain to the cells' sum): make them add up`,
      );
  }
  for (const mn of args.numatune?.memnode ?? []) {
    if (!cells.some((c) => c.id === mn.cellid))
      throw new TaskError(
        `${domain}: numatune memnode ${mn.cellid}: the domain has no guest NUMA cell ${mn.cellid} (cells: ${cells.map((c) => c.id).join(', ') || 'none; declare cpu numa'})`,
      );
  }
}

function checkPatched(domain: string, args: LibvirtDomainArgs, doc: ReturnType<typeof parseDomainXml>): void {
  const counts = vcpuCounts(doc);
  if (!counts) return;
  checkNuma(domain, args, doc, counts.max);
  const topo = args.cpu?.topology;
  if (topo) {
    const product = topo.sockets * (topo.dies ?? 1) * topo.cores * topo.threads;
    if (product !== counts.max)
      throw new TaskError(
        `${domain}: cpu topology: ${topo.sockets} sockets × ${topo.dies ?? 1} dies × ${topo.cores} cores × ${topo.threads} threads = ${product} vCPUs, but the domain has ${counts.max}`,
      );
  }
  if (args.vcpu_placement?.placement === 'auto' && args.vcpu_placement.cpuset !== undefined)
    throw new TaskError(`${domain}: vcpu_placement: placement auto takes the CPUs from numad; drop cpuset or use placement static`);
  for (const vcpu of Object.keys(args.cputune?.vcpupin ?? {})) {
    if (Number(vcpu) >= counts.max)
      throw new TaskError(`${domain}: vcpupin ${vcpu}: the domain has ${counts.max} vCPUs (0-${counts.max - 1})`);
  }
  for (const nic of args.interfaces ?? []) {
    const type = nic.coalesce ? findDevice(doc, 'interface', nic.match)?.getAttribute('type') : undefined;
    // libvirt refuses <coalesce> at define on any other kind of interface.
    if (type && !COALESCE_TYPES.includes(type))
      throw new TaskError(
        `${domain}: ${describeMatch('interface', nic.match)}: coalesce works on interfaces of type ${COALESCE_TYPES.join(' or ')}, not ${type}`,
      );
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
    case 'schedinfo':
      return [...base, 'schedinfo', '--domain', domain, '--set', `${live.field}=${value}`, ...tail];
    case 'blkiotune-weight':
      return [...base, 'blkiotune', '--domain', domain, '--weight', value, ...tail];
    case 'memtune':
      return [...base, 'memtune', '--domain', domain, `--${live.field.replace(/_/g, '-')}`, value, ...tail];
  }
}

/**
 * The settings of `args` for one domain; `doc` is that domain's XML (relative memory limits),
 * `vfAddresses` the PCI addresses of the VFs its hostdevs name.
 */
function itemsOf(
  args: LibvirtDomainArgs,
  doc: ReturnType<typeof parseDomainXml>,
  domain: string,
  vfAddresses: VfAddresses = {},
): PatchItem[] {
  try {
    return patchItems(resolveRelativeMemory(args, doc, domain), resolverOf(vfAddresses));
  } catch (e) {
    throw new TaskError((e as Error).message);
  }
}

/** An interface the task adds when it is missing: a new kind (hostdev, direct) named by its MAC. */
const addsInterface = (nic: NonNullable<LibvirtDomainArgs['interfaces']>[number]) => nic.type !== undefined && 'mac' in nic.match;

function planDomain(args: LibvirtDomainArgs, dom: DomainObserved, changes: Change[], pending: Pending[], vfAddresses: VfAddresses): void {
  const persisted = hostXml(dom.name, 'persistent', dom.persisted);
  const items = itemsOf(args, persisted, dom.name, vfAddresses);
  for (const dev of [
    ...(args.interfaces ?? []).filter((i) => !addsInterface(i)).map((i) => ['interface', i.match] as const),
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
      data: { op: 'define', domain: dom.name, xml: serializeDomainXml(patched), original: dom.persisted, vfAddresses } satisfies ChangeData,
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
      data: {
        op: 'live',
        domain: dom.name,
        key: it.key,
        argv: liveArgv(args, dom.name, it.live, it.desired),
        vfAddresses,
      } satisfies ChangeData,
    });
  }
  if (needRestart.length === 0) return;
  if (args.restart === 'if-needed') {
    const timeout = args.shutdown_timeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
    changes.push({
      summary: `restart ${dom.name} (shut down, wait ${timeout} s${args.allow_destroy ? ', then force off' : ''}, start) for ${needRestart.join(', ')}`,
      target: `domain:${dom.name}`,
      effect: 'vm-restart',
      data: {
        op: 'restart',
        domain: dom.name,
        timeoutSeconds: timeout,
        allowDestroy: args.allow_destroy === true,
        vfAddresses,
      } satisfies ChangeData,
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
  const vfAddresses = resolveVfs(args, obs);
  const warnings: string[] = args.blkiotune?.weight !== undefined ? [BLKIO_WEIGHT] : [];
  const changes: Change[] = [];
  const pending: Pending[] = [];
  for (const dom of selectDomains(args, obs, warnings)) planDomain(args, dom, changes, pending, vfAddresses);
  return { changes, pending, warnings };
}

// ---- apply ----------------------------------------------------------------------------------

async function dumpXml(host: HostHandle, args: LibvirtDomainArgs, domain: string, inactive: boolean) {
  const r = await host.run([...virsh(args), 'dumpxml', ...(inactive ? ['--inactive'] : []), '--domain', domain]);
  return parseDomainXml(r.stdout);
}

/** Read the domain back and check every setting of `args` (only `key`, when given). */
async function verify(
  host: HostHandle,
  args: LibvirtDomainArgs,
  domain: string,
  key: string | null,
  inactive: boolean,
  hint: string,
  vfAddresses: VfAddresses = {},
) {
  const doc = await dumpXml(host, args, domain, inactive);
  const items = itemsOf(args, doc, domain, vfAddresses).filter((it) => key === null || it.key === key);
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
    await verify(
      host,
      args,
      d.domain,
      null,
      true,
      'libvirt dropped or rewrote this element; the previous definition was restored',
      d.vfAddresses,
    );
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
  await verify(host, args, d.domain, null, false, 'the restarted domain does not run with its definition', d.vfAddresses);
}

const ORDER: Record<ChangeData['op'], number> = { define: 0, live: 1, restart: 2 };

async function apply(changes: Change[], host: HostHandle, args: LibvirtDomainArgs): Promise<void> {
  const ops = changes.map((c) => c.data as ChangeData).sort((a, b) => ORDER[a.op] - ORDER[b.op]);
  for (const op of ops) {
    if (op.op === 'define') await define(host, args, op);
    else if (op.op === 'restart') await restart(host, args, op);
    else {
      await host.run(op.argv);
      await verify(
        host,
        args,
        op.domain,
        op.key,
        false,
        'virsh accepted the live change but the running domain does not show it',
        op.vfAddresses,
      );
    }
  }
}

/** A source names what one kind of interface uses: a PCI device for hostdev, a host NIC for direct. */
function validate(args: LibvirtDomainArgs): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  (args.interfaces ?? []).forEach((nic, i) => {
    if (!nic.source) return;
    const wants = 'dev' in nic.source ? 'direct' : 'hostdev';
    if (nic.type !== wants)
      problems.push({
        path: `/interfaces/${i}/source`,
        message: `a source ${wants === 'direct' ? '{dev, mode}' : '{pci} or {pf, vf}'} needs type: ${wants}${nic.type ? `, not ${nic.type}` : ''}`,
      });
  });
  return problems;
}

export const libvirt_domain = {
  name: 'libvirt_domain',
  description:
    'Element-level tuning of libvirt domain XML (cputune, numatune, guest NUMA, CPU topology, hugepages, Hyper-V, PCI/VF passthrough, macvtap, virtio queues, disk cache and bus) plus live tuning through virsh',
  schema: libvirtDomainSchema,
  validate,
  read,
  parse,
  plan,
  apply,
  crossChecks: [numatuneHugepages, memtuneHardLimit, blkioWeightScheduler, pinningDaemons],
} satisfies Module<LibvirtDomainArgs, LibvirtDomainObserved>;

export default libvirt_domain;
