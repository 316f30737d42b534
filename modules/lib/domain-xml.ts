// Pure logic of libvirt domain XML for libvirt_domain: parse, patch only the elements a playbook
// declares, read them back normalised, and print a canonical form for diffs. Everything the
// playbook does not mention (UUID, MACs, PCI addresses, metadata, unknown elements) is left as is.

import { createRequire } from 'node:module';
import type { Document, Element, Node } from '@xmldom/xmldom';
import { normaliseCpuset, normaliseCpusetLenient } from './cpuset.js';
import { pciAttributes, pciFromAttributes } from './sriov.js';

export type NumaMode = 'strict' | 'preferred' | 'interleave' | 'restrictive';
export type CpuMode = 'host-passthrough' | 'host-model' | 'custom' | 'maximum';
export type MemorySize = string | number;
export type InterfaceMatch = { mac: string } | { target: string } | { index: number };
/** Hyper-V enlightenments that are only on or off (`<features><hyperv><NAME state='on'/>`). */
export const HYPERV_SWITCHES = [
  'relaxed',
  'vapic',
  'vpindex',
  'runtime',
  'synic',
  'stimer',
  'reset',
  'frequencies',
  'reenlightenment',
  'tlbflush',
  'ipi',
] as const;

/** A PCI device: by address, or VF `vf` of the PF `pf` (resolved on the host through virtfnN). */
export type PciSource = { pci: string } | { pf: string; vf: number };
export type DirectMode = 'bridge' | 'vepa' | 'private' | 'passthrough';
export type HostdevTuning = PciSource & { state?: 'present' | 'absent' };

export interface InterfaceTuning {
  match: InterfaceMatch;
  /** hostdev: a VF passed through (`<interface type='hostdev'>`); direct: macvtap on a host NIC. */
  type?: 'hostdev' | 'direct';
  source?: PciSource | { dev: string; mode?: DirectMode };
  vlan?: number;
  model?: string;
  driver?: { name?: 'vhost' | 'qemu'; queues?: number; rx_queue_size?: number; tx_queue_size?: number };
  coalesce?: { rx_frames?: number };
}
export interface DiskTuning {
  match: { target: string };
  bus?: string;
  driver?: { cache?: string; io?: string };
}
export interface NumaCell {
  id: number;
  cpus: string;
  memory: MemorySize;
}
export type HypervTuning = Partial<Record<(typeof HYPERV_SWITCHES)[number], boolean>> & { spinlocks?: number | false };
/** The declarable settings, keyed exactly as in the playbook. */
export interface DomainTuning {
  vcpus?: number;
  vcpu_placement?: { placement?: 'static' | 'auto'; cpuset?: string };
  cputune?: { vcpupin?: Record<string, string | number>; emulatorpin?: string; shares?: number; quota?: number; period?: number };
  numatune?: { mode?: NumaMode; nodeset?: string; memnode?: { cellid: number; mode?: NumaMode; nodeset?: string }[] };
  memory_backing?: { hugepages?: boolean };
  cpu?: {
    mode?: CpuMode;
    topology?: { sockets: number; dies?: number; cores: number; threads: number };
    cache?: 'passthrough' | 'emulate' | 'disable';
    numa?: NumaCell[];
  };
  features?: { hyperv?: HypervTuning };
  hostdevs?: HostdevTuning[];
  interfaces?: InterfaceTuning[];
  disks?: DiskTuning[];
  blkiotune?: { weight?: number };
  memtune?: { hard_limit?: MemorySize; soft_limit?: MemorySize; swap_hard_limit?: MemorySize };
}

/** How a setting is changed on a running domain without a restart; null = only by a restart. */
export type LiveTuning =
  | { kind: 'vcpupin'; vcpu: number }
  | { kind: 'emulatorpin' }
  | { kind: 'shares' }
  | { kind: 'schedinfo'; field: 'vcpu_quota' | 'vcpu_period' }
  | { kind: 'blkiotune-weight' }
  | { kind: 'memtune'; field: 'hard_limit' | 'soft_limit' | 'swap_hard_limit' };

/** One declared setting: where it lives in the XML, its wanted value, how to read and patch it. */
export interface PatchItem {
  /** XPath-like name of the element/attribute, e.g. `cputune/vcpupin[vcpu=0]@cpuset`. */
  key: string;
  desired: string;
  live: LiveTuning | null;
  /** Normalised current value in `doc`; null = absent (or the matched device is missing). */
  get(doc: Document): string | null;
  set(doc: Document): void;
}

// xmldom (CommonJS) loads on first use: every CLI run imports every module, few touch domain XML.
let xmldomLib: typeof import('@xmldom/xmldom') | undefined;
const xmldom = () => (xmldomLib ??= createRequire(import.meta.url)('@xmldom/xmldom') as typeof import('@xmldom/xmldom'));

export function parseDomainXml(text: string): Document {
  const doc = new (xmldom().DOMParser)({
    onError: (level: string, message: string) => {
      if (level !== 'warning') throw new Error(`invalid domain XML: ${message}`);
    },
  }).parseFromString(text, 'text/xml');
  if (doc.documentElement?.tagName !== 'domain') throw new Error('invalid domain XML: the root element is not <domain>');
  return doc;
}

/** The document as XML text, as `virsh define` takes it. */
export function serializeDomainXml(doc: Document): string {
  return new (xmldom().XMLSerializer)().serializeToString(doc);
}

// ---- canonical form -------------------------------------------------------------------------

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (s: string) => escapeText(s).replace(/'/g, '&apos;');

/**
 * One spelling per document: attributes sorted, single quotes, two-space indentation,
 * whitespace-only text dropped, text trimmed. Element order is kept (it means something, e.g.
 * disk order decides boot order).
 */
export function canonicalXml(input: string | Document): string {
  const doc = typeof input === 'string' ? parseDomainXml(input) : input;
  const lines: string[] = [];
  writeCanonical(doc.documentElement as Element, 0, lines);
  return lines.join('\n') + '\n';
}

function writeCanonical(el: Element, depth: number, lines: string[]): void {
  const pad = '  '.repeat(depth);
  const attrs = Array.from({ length: el.attributes.length }, (_, i) => el.attributes.item(i)!)
    .map((a) => [a.name, a.value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([n, v]) => ` ${n}='${escapeAttr(v)}'`)
    .join('');
  const kids = Array.from(el.childNodes as unknown as ArrayLike<Node>).filter(
    (n) => n.nodeType === 1 || n.nodeType === 8 || ((n.nodeType === 3 || n.nodeType === 4) && n.nodeValue!.trim() !== ''),
  );
  if (kids.length === 0) {
    lines.push(`${pad}<${el.tagName}${attrs}/>`);
  } else if (kids.length === 1 && kids[0].nodeType !== 1 && kids[0].nodeType !== 8) {
    lines.push(`${pad}<${el.tagName}${attrs}>${escapeText(kids[0].nodeValue!.trim())}</${el.tagName}>`);
  } else {
    lines.push(`${pad}<${el.tagName}${attrs}>`);
    for (const k of kids) {
      if (k.nodeType === 1) writeCanonical(k as Element, depth + 1, lines);
      else if (k.nodeType === 8) lines.push(`${pad}  <!--${k.nodeValue}-->`);
      else lines.push(`${pad}  ${escapeText(k.nodeValue!.trim())}`);
    }
    lines.push(`${pad}</${el.tagName}>`);
  }
}

// ---- element helpers ------------------------------------------------------------------------

/** libvirt's order of <domain> children, so new elements land where `virsh dumpxml` puts them. */
const DOMAIN_ORDER = [
  'name',
  'uuid',
  'genid',
  'title',
  'description',
  'metadata',
  'maxMemory',
  'memory',
  'currentMemory',
  'blkiotune',
  'memtune',
  'memoryBacking',
  'vcpu',
  'vcpus',
  'iothreads',
  'cputune',
  'numatune',
  'resource',
  'sysinfo',
  'bootloader',
  'os',
  'idmap',
  'features',
  'cpu',
  'clock',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  'pm',
  'perf',
  'devices',
  'seclabel',
];

export function children(el: Element, tag: string): Element[] {
  return Array.from(el.childNodes as unknown as ArrayLike<Node>).filter(
    (n): n is Element => n.nodeType === 1 && (n as Element).tagName === tag,
  );
}
const child = (el: Element | null, tag: string): Element | null => (el ? (children(el, tag)[0] ?? null) : null);

function ensureChild(parent: Element, tag: string): Element {
  const found = child(parent, tag);
  if (found) return found;
  const doc = parent.ownerDocument!;
  const el = doc.createElement(tag);
  const rank = parent.tagName === 'domain' ? DOMAIN_ORDER.indexOf(tag) : -1;
  const next =
    rank < 0
      ? null
      : Array.from(parent.childNodes as unknown as ArrayLike<Node>).find(
          (n) => n.nodeType === 1 && DOMAIN_ORDER.indexOf((n as Element).tagName) > rank,
        );
  parent.insertBefore(el, next ?? null);
  return el;
}

const root = (doc: Document) => doc.documentElement as Element;
const text = (el: Element | null): string | null => (el ? (el.textContent ?? '').trim() : null);
const attr = (el: Element | null, name: string): string | null => (el?.hasAttribute(name) ? el.getAttribute(name) : null);

function setText(el: Element, value: string): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(el.ownerDocument!.createTextNode(value));
}

// ---- memory sizes ---------------------------------------------------------------------------

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  bytes: 1,
  kb: 1e3,
  k: 1024,
  kib: 1024,
  mb: 1e6,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1e9,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1e12,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** "2GiB" → 2097152, "2GB" → 1953125 (KiB, rounded up as libvirt does); a bare number is KiB. */
export function memoryKiB(value: MemorySize, unit = 'KiB'): number {
  const m = /^\s*(\d+)\s*([A-Za-z]*)\s*$/.exec(String(value));
  const factor = m ? UNIT_BYTES[(m[2] || unit).toLowerCase()] : undefined;
  if (!m || factor === undefined) {
    throw new Error(`not a memory size: ${JSON.stringify(value)} (expected a number with a unit such as 2GiB, 512MiB, 2GB)`);
  }
  return Math.ceil((Number(m[1]) * factor) / 1024);
}

// ---- the declared settings as patch items ---------------------------------------------------

export function describeMatch(kind: 'interface' | 'disk', match: InterfaceMatch): string {
  if ('mac' in match) return `${kind}[mac=${match.mac.toLowerCase()}]`;
  if ('target' in match) return `${kind}[target=${match.target}]`;
  return `${kind}[${match.index}]`;
}

export function findDevice(doc: Document, kind: 'interface' | 'disk', match: InterfaceMatch): Element | null {
  const all = children(child(root(doc), 'devices') ?? root(doc), kind);
  if ('index' in match) return all[match.index] ?? null;
  if ('mac' in match) return all.find((el) => attr(child(el, 'mac'), 'address')?.toLowerCase() === match.mac.toLowerCase()) ?? null;
  return all.find((el) => attr(child(el, 'target'), 'dev') === match.target) ?? null;
}

/** vCPUs: `max` is the element text, `current` the attribute (= max when absent). */
export function vcpuCounts(doc: Document): { max: number; current: number } | null {
  const el = child(root(doc), 'vcpu');
  if (!el) return null;
  const max = Number(text(el));
  const current = el.hasAttribute('current') ? Number(el.getAttribute('current')) : max;
  return { max, current };
}

/** A PCI source as one address; a VF of a PF is resolved by the caller, which reads the host. */
export type PciResolver = (src: PciSource) => string;

export const describePciSource = (src: PciSource) => ('pci' in src ? src.pci.toLowerCase() : `VF ${src.vf} of ${src.pf}`);

const addressOnly: PciResolver = (src) => {
  if ('pci' in src) return src.pci.toLowerCase();
  throw new Error(`${describePciSource(src)}: its PCI address was not read from the host`);
};

/** Guest NUMA cells as `<cpu><numa>` holds them: id → cpus, memory in KiB. */
export function numaCells(doc: Document): { id: number; cpus: string; kib: number }[] {
  const numa = child(child(root(doc), 'cpu'), 'numa');
  if (!numa) return [];
  return children(numa, 'cell').map((c) => ({
    id: Number(c.getAttribute('id')),
    cpus: normaliseCpusetLenient(c.getAttribute('cpus') ?? ''),
    kib: memoryKiB(c.getAttribute('memory') ?? '0', c.getAttribute('unit') || 'KiB'),
  }));
}

/** `<memory>` in KiB, or null. */
export function domainMemoryKiB(doc: Document): number | null {
  const el = child(root(doc), 'memory');
  return el ? memoryKiB(text(el)!, el.getAttribute('unit') || 'KiB') : null;
}

const formatCells = (cells: { id: number; cpus: string; kib: number }[]) =>
  [...cells]
    .sort((a, b) => a.id - b.id)
    .map((c) => `cell ${c.id}: cpus ${c.cpus}, ${c.kib} KiB`)
    .join('; ');

/** Every setting of `t`, in playbook order. Values are normalised (cpusets, KiB, booleans). */
export function patchItems(t: DomainTuning, resolve: PciResolver = addressOnly): PatchItem[] {
  const items: PatchItem[] = [];
  const elementPath = (doc: Document, path: string[]): Element | null =>
    path.reduce<Element | null>((el, tag) => child(el, tag), root(doc));
  const ensurePath = (doc: Document, path: string[]): Element => path.reduce((el, tag) => ensureChild(el, tag), root(doc));
  const textItem = (path: string[], desired: string, live: LiveTuning | null, norm = (s: string) => s): PatchItem => ({
    key: path.join('/'),
    desired,
    live,
    get: (doc) => {
      const v = text(elementPath(doc, path));
      return v === null ? null : norm(v);
    },
    set: (doc) => setText(ensurePath(doc, path), desired),
  });
  const attrItem = (path: string[], name: string, desired: string, norm = (s: string) => s): PatchItem => ({
    key: `${path.join('/')}@${name}`,
    desired,
    live: null,
    get: (doc) => {
      const v = attr(elementPath(doc, path), name);
      return v === null ? null : norm(v);
    },
    set: (doc) => ensurePath(doc, path).setAttribute(name, desired),
  });

  if (t.vcpus !== undefined) {
    const n = t.vcpus;
    items.push({
      key: 'vcpu',
      desired: String(n),
      live: null,
      get: (doc) => {
        const c = vcpuCounts(doc);
        return c ? String(c.current) : null;
      },
      set: (doc) => {
        const el = ensureChild(root(doc), 'vcpu');
        const c = vcpuCounts(doc);
        // With current= present the text is the hot-plug maximum: keep it when it still fits.
        if (el.hasAttribute('current') && c && n <= c.max) el.setAttribute('current', String(n));
        else {
          el.removeAttribute('current');
          setText(el, String(n));
        }
      },
    });
  }
  if (t.vcpu_placement?.placement !== undefined) items.push(attrItem(['vcpu'], 'placement', t.vcpu_placement.placement));
  if (t.vcpu_placement?.cpuset !== undefined) {
    items.push(attrItem(['vcpu'], 'cpuset', normaliseCpuset(t.vcpu_placement.cpuset), normaliseCpusetLenient));
  }
  const ct = t.cputune ?? {};
  for (const [vcpu, cpuset] of Object.entries(ct.vcpupin ?? {}).sort(([a], [b]) => Number(a) - Number(b))) {
    const desired = normaliseCpuset(String(cpuset));
    const pin = (doc: Document) =>
      children(child(root(doc), 'cputune') ?? root(doc), 'vcpupin').find((e) => e.getAttribute('vcpu') === String(Number(vcpu))) ?? null;
    items.push({
      key: `cputune/vcpupin[vcpu=${Number(vcpu)}]@cpuset`,
      desired,
      live: { kind: 'vcpupin', vcpu: Number(vcpu) },
      get: (doc) => {
        const v = attr(child(root(doc), 'cputune') ? pin(doc) : null, 'cpuset');
        return v === null ? null : normaliseCpusetLenient(v);
      },
      set: (doc) => {
        let el = child(root(doc), 'cputune') ? pin(doc) : null;
        if (!el) {
          el = doc.createElement('vcpupin');
          el.setAttribute('vcpu', String(Number(vcpu)));
          ensureChild(root(doc), 'cputune').appendChild(el);
        }
        el.setAttribute('cpuset', desired);
      },
    });
  }
  if (ct.emulatorpin !== undefined) {
    const item = attrItem(['cputune', 'emulatorpin'], 'cpuset', normaliseCpuset(ct.emulatorpin), normaliseCpusetLenient);
    items.push({ ...item, live: { kind: 'emulatorpin' } });
  }
  if (ct.shares !== undefined) items.push(textItem(['cputune', 'shares'], String(ct.shares), { kind: 'shares' }));
  if (ct.period !== undefined) items.push(textItem(['cputune', 'period'], String(ct.period), { kind: 'schedinfo', field: 'vcpu_period' }));
  if (ct.quota !== undefined) items.push(textItem(['cputune', 'quota'], String(ct.quota), { kind: 'schedinfo', field: 'vcpu_quota' }));
  if (t.numatune?.mode !== undefined) items.push(attrItem(['numatune', 'memory'], 'mode', t.numatune.mode));
  if (t.numatune?.nodeset !== undefined) {
    items.push(attrItem(['numatune', 'memory'], 'nodeset', normaliseCpuset(t.numatune.nodeset), normaliseCpusetLenient));
  }
  for (const mn of t.numatune?.memnode ?? []) {
    const find = (doc: Document) =>
      children(child(root(doc), 'numatune') ?? root(doc), 'memnode').find((e) => e.getAttribute('cellid') === String(mn.cellid)) ?? null;
    const memnodeItem = (name: string, desired: string, norm: (v: string) => string): PatchItem => ({
      key: `numatune/memnode[cellid=${mn.cellid}]@${name}`,
      desired,
      live: null,
      get: (doc) => {
        const v = attr(child(root(doc), 'numatune') ? find(doc) : null, name);
        return v === null ? null : norm(v);
      },
      set: (doc) => {
        let el = child(root(doc), 'numatune') ? find(doc) : null;
        if (!el) {
          el = doc.createElement('memnode');
          el.setAttribute('cellid', String(mn.cellid));
          ensureChild(root(doc), 'numatune').appendChild(el);
        }
        el.setAttribute(name, desired);
      },
    });
    if (mn.mode !== undefined) items.push(memnodeItem('mode', mn.mode, (v) => v));
    if (mn.nodeset !== undefined) items.push(memnodeItem('nodeset', normaliseCpuset(mn.nodeset), normaliseCpusetLenient));
  }
  if (t.memory_backing?.hugepages !== undefined) {
    const want = t.memory_backing.hugepages;
    items.push({
      key: 'memoryBacking/hugepages',
      desired: String(want),
      live: null,
      get: (doc) => String(elementPath(doc, ['memoryBacking', 'hugepages']) !== null),
      set: (doc) => {
        if (want) {
          ensurePath(doc, ['memoryBacking', 'hugepages']);
          return;
        }
        const backing = child(root(doc), 'memoryBacking');
        const huge = child(backing, 'hugepages');
        if (backing && huge) backing.removeChild(huge);
        if (backing && !Array.from(backing.childNodes as unknown as ArrayLike<Node>).some((n) => n.nodeType === 1)) {
          root(doc).removeChild(backing);
        }
      },
    });
  }
  if (t.cpu?.mode !== undefined) {
    const mode = t.cpu.mode;
    items.push({
      ...attrItem(['cpu'], 'mode', mode),
      set: (doc) => {
        const el = ensureChild(root(doc), 'cpu');
        el.setAttribute('mode', mode);
        // A named model, its features and match= describe a custom CPU only.
        if (mode === 'custom') return;
        el.removeAttribute('match');
        for (const tag of ['model', 'vendor', 'feature']) for (const c of children(el, tag)) el.removeChild(c);
      },
    });
  }
  const topo = t.cpu?.topology;
  if (topo) {
    for (const name of ['sockets', 'dies', 'cores', 'threads'] as const) {
      if (topo[name] !== undefined) items.push(attrItem(['cpu', 'topology'], name, String(topo[name])));
    }
  }
  if (t.cpu?.cache !== undefined) items.push(attrItem(['cpu', 'cache'], 'mode', t.cpu.cache));
  if (t.cpu?.numa !== undefined) items.push(numaItem(t.cpu.numa));
  const hv = t.features?.hyperv ?? {};
  for (const name of HYPERV_SWITCHES) {
    if (hv[name] !== undefined) items.push(attrItem(['features', 'hyperv', name], 'state', hv[name] ? 'on' : 'off'));
  }
  if (hv.spinlocks !== undefined) {
    items.push(attrItem(['features', 'hyperv', 'spinlocks'], 'state', hv.spinlocks === false ? 'off' : 'on'));
    if (hv.spinlocks !== false) items.push(attrItem(['features', 'hyperv', 'spinlocks'], 'retries', String(hv.spinlocks)));
  }
  for (const hd of t.hostdevs ?? []) items.push(hostdevItem(resolve(hd), hd.state ?? 'present'));
  for (const nic of t.interfaces ?? []) {
    items.push(...interfaceItems(nic, resolve));
    items.push(...deviceItems('interface', nic.match, { model: nic.model }, nic.driver ?? {}));
    if (nic.coalesce?.rx_frames !== undefined) items.push(coalesceItem(nic.match, nic.coalesce.rx_frames));
  }
  for (const disk of t.disks ?? []) {
    if (disk.bus !== undefined) items.push(diskBusItem(disk.match, disk.bus));
    items.push(...deviceItems('disk', disk.match, {}, disk.driver ?? {}));
  }
  if (t.blkiotune?.weight !== undefined)
    items.push(textItem(['blkiotune', 'weight'], String(t.blkiotune.weight), { kind: 'blkiotune-weight' }));
  for (const field of ['hard_limit', 'soft_limit', 'swap_hard_limit'] as const) {
    const value = t.memtune?.[field];
    if (value === undefined) continue;
    const kib = String(memoryKiB(value));
    items.push({
      key: `memtune/${field}`,
      desired: kib,
      live: { kind: 'memtune', field },
      get: (doc) => {
        const el = child(child(root(doc), 'memtune'), field);
        return el ? String(memoryKiB(text(el)!, el.getAttribute('unit') || 'KiB')) : null;
      },
      set: (doc) => {
        const el = ensurePath(doc, ['memtune', field]);
        el.setAttribute('unit', 'KiB');
        setText(el, kib);
      },
    });
  }
  return items;
}

function deviceItems(
  kind: 'interface' | 'disk',
  match: InterfaceMatch,
  model: { model?: string },
  driver: Record<string, string | number | undefined>,
): PatchItem[] {
  const base = describeMatch(kind, match);
  const item = (tag: string, name: string, desired: string): PatchItem => ({
    key: `${base}/${tag}@${name}`,
    desired,
    live: null,
    get: (doc) => attr(child(findDevice(doc, kind, match), tag), name),
    set: (doc) => {
      const dev = findDevice(doc, kind, match);
      if (!dev) throw new Error(`no ${base} in the domain`);
      (child(dev, tag) ?? (dev.appendChild(doc.createElement(tag)) as Element)).setAttribute(name, desired);
    },
  });
  const items: PatchItem[] = [];
  if (model.model !== undefined) items.push(item('model', 'type', model.model));
  for (const [name, value] of Object.entries(driver)) if (value !== undefined) items.push(item('driver', name, String(value)));
  return items;
}

// ---- guest NUMA, passthrough devices, interface sources -------------------------------------

function numaItem(cells: NumaCell[]): PatchItem {
  const want = cells.map((c) => ({ id: c.id, cpus: normaliseCpuset(c.cpus), kib: memoryKiB(c.memory) }));
  return {
    key: 'cpu/numa',
    desired: formatCells(want),
    live: null,
    get: (doc) => (child(child(root(doc), 'cpu'), 'numa') ? formatCells(numaCells(doc)) : null),
    set: (doc) => {
      const numa = ensureChild(ensureChild(root(doc), 'cpu'), 'numa');
      // Cells keep what the playbook does not name (memAccess, distances); undeclared cells go.
      for (const c of children(numa, 'cell')) if (!want.some((w) => String(w.id) === c.getAttribute('id'))) numa.removeChild(c);
      for (const w of want) {
        let cell = children(numa, 'cell').find((c) => c.getAttribute('id') === String(w.id));
        if (!cell) {
          cell = doc.createElement('cell');
          cell.setAttribute('id', String(w.id));
          numa.appendChild(cell);
        }
        cell.setAttribute('cpus', w.cpus);
        cell.setAttribute('memory', String(w.kib));
        cell.setAttribute('unit', 'KiB');
      }
    },
  };
}

const pciOf = (el: Element | null): string | null => {
  const a = child(child(el, 'source'), 'address');
  return a ? pciFromAttributes((n) => attr(a, n)) : null;
};

function addressElement(doc: Document, pci: string, withType: boolean): Element {
  const a = doc.createElement('address');
  if (withType) a.setAttribute('type', 'pci');
  for (const [k, v] of Object.entries(pciAttributes(pci))) a.setAttribute(k, v);
  return a;
}

function hostdevItem(pci: string, state: 'present' | 'absent'): PatchItem {
  const find = (doc: Document) =>
    children(child(root(doc), 'devices') ?? root(doc), 'hostdev').find((h) => h.getAttribute('type') === 'pci' && pciOf(h) === pci) ?? null;
  return {
    key: `hostdev[pci=${pci}]`,
    desired: state,
    live: null,
    get: (doc) => (find(doc) ? 'present' : 'absent'),
    set: (doc) => {
      const devices = ensureChild(root(doc), 'devices');
      const found = find(doc);
      if (state === 'absent') {
        if (found) devices.removeChild(found);
        return;
      }
      if (found) return;
      // managed='yes': libvirt detaches the device from its host driver at start and gives it back at stop.
      const hd = doc.createElement('hostdev');
      hd.setAttribute('mode', 'subsystem');
      hd.setAttribute('type', 'pci');
      hd.setAttribute('managed', 'yes');
      const source = doc.createElement('source');
      source.appendChild(addressElement(doc, pci, false));
      hd.appendChild(source);
      devices.appendChild(hd);
    },
  };
}

/** How an interface's `<source>` reads: `pci ADDRESS` (hostdev) or `dev NAME mode MODE` (direct). */
function sourceText(el: Element | null): string | null {
  const src = child(el, 'source');
  if (!src) return null;
  const pci = pciOf(el);
  if (pci) return `pci ${pci}`;
  const dev = attr(src, 'dev');
  // libvirt's default macvtap mode is vepa.
  return dev === null ? null : `dev ${dev} mode ${attr(src, 'mode') ?? 'vepa'}`;
}

function interfaceItems(nic: InterfaceTuning, resolve: PciResolver): PatchItem[] {
  const base = describeMatch('interface', nic.match);
  const items: PatchItem[] = [];
  const need = (doc: Document) => {
    const dev = findDevice(doc, 'interface', nic.match);
    if (!dev) throw new Error(`no ${base} in the domain`);
    return dev;
  };
  if (nic.type !== undefined) {
    const type = nic.type;
    items.push({
      key: `${base}@type`,
      desired: type,
      live: null,
      get: (doc) => attr(findDevice(doc, 'interface', nic.match), 'type'),
      set: (doc) => {
        let dev = findDevice(doc, 'interface', nic.match);
        if (!dev) {
          // A new interface, named by its MAC (the only match that can name one not there yet).
          if (!('mac' in nic.match)) throw new Error(`no ${base} in the domain`);
          dev = doc.createElement('interface');
          const mac = doc.createElement('mac');
          mac.setAttribute('address', nic.match.mac.toLowerCase());
          dev.appendChild(mac);
          ensureChild(root(doc), 'devices').appendChild(dev);
        }
        dev.setAttribute('type', type);
        // What belonged to the old kind of interface (a tap's name, a network source, vhost queues) goes.
        for (const tag of ['source', 'target', ...(type === 'hostdev' ? ['model', 'driver'] : [])]) {
          for (const c of children(dev, tag)) dev.removeChild(c);
        }
        if (type === 'hostdev') dev.setAttribute('managed', 'yes');
        else dev.removeAttribute('managed');
      },
    });
  }
  if (nic.source !== undefined) {
    const src = nic.source;
    const desired = 'dev' in src ? `dev ${src.dev} mode ${src.mode ?? 'vepa'}` : `pci ${resolve(src)}`;
    items.push({
      key: `${base}/source`,
      desired,
      live: null,
      get: (doc) => sourceText(findDevice(doc, 'interface', nic.match)),
      set: (doc) => {
        const dev = need(doc);
        for (const c of children(dev, 'source')) dev.removeChild(c);
        const el = doc.createElement('source');
        if ('dev' in src) {
          el.setAttribute('dev', src.dev);
          el.setAttribute('mode', src.mode ?? 'vepa');
        } else el.appendChild(addressElement(doc, desired.slice(4), true));
        dev.appendChild(el);
      },
    });
  }
  if (nic.vlan !== undefined) {
    const id = String(nic.vlan);
    items.push({
      key: `${base}/vlan/tag@id`,
      desired: id,
      live: null,
      get: (doc) => attr(child(child(findDevice(doc, 'interface', nic.match), 'vlan'), 'tag'), 'id'),
      set: (doc) => {
        const dev = need(doc);
        for (const c of children(dev, 'vlan')) dev.removeChild(c);
        const vlan = doc.createElement('vlan');
        const tag = doc.createElement('tag');
        tag.setAttribute('id', id);
        vlan.appendChild(tag);
        dev.appendChild(vlan);
      },
    });
  }
  return items;
}

function coalesceItem(match: InterfaceMatch, frames: number): PatchItem {
  const base = describeMatch('interface', match);
  return {
    key: `${base}/coalesce/rx/frames@max`,
    desired: String(frames),
    live: null,
    get: (doc) => attr(child(child(child(findDevice(doc, 'interface', match), 'coalesce'), 'rx'), 'frames'), 'max'),
    set: (doc) => {
      const dev = findDevice(doc, 'interface', match);
      if (!dev) throw new Error(`no ${base} in the domain`);
      ensureChild(ensureChild(ensureChild(dev, 'coalesce'), 'rx'), 'frames').setAttribute('max', String(frames));
    },
  };
}

function diskBusItem(match: { target: string }, bus: string): PatchItem {
  const base = describeMatch('disk', match);
  return {
    key: `${base}/target@bus`,
    desired: bus,
    live: null,
    get: (doc) => attr(child(findDevice(doc, 'disk', match), 'target'), 'bus'),
    set: (doc) => {
      const dev = findDevice(doc, 'disk', match);
      if (!dev) throw new Error(`no ${base} in the domain`);
      ensureChild(dev, 'target').setAttribute('bus', bus);
      // The old bus's address (a PCI slot for virtio, a drive for sata) no longer fits: libvirt assigns one.
      for (const a of children(dev, 'address')) dev.removeChild(a);
    },
  };
}
