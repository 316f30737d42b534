// Pure logic of SR-IOV: parse what a PF shows (sysfs, `ip -d link show`), compute a VF's PCI
// address the way the kernel numbers them, find the VFs running domains hold, and render the udev
// rule that puts numvfs and VF settings back at boot. Shared by the sriov and libvirt_domain
// modules; no I/O.

import { createRequire } from 'node:module';
import type { Element, Node } from '@xmldom/xmldom';

/** What `ip link set DEV vf N …` can set, as the playbook names it. */
export interface VfSettings {
  mac?: string;
  /** 0 = no VLAN */
  vlan?: number;
  qos?: number;
  spoofchk?: boolean;
  trust?: boolean;
  state?: 'auto' | 'enable' | 'disable';
}

/** One `vf N` line of `ip -d link show`, normalised. */
export interface VfObserved {
  mac: string;
  vlan: number;
  qos: number;
  spoofchk: boolean | null;
  trust: boolean | null;
  state: 'auto' | 'enable' | 'disable' | null;
}

export const VF_FIELDS = ['mac', 'vlan', 'qos', 'spoofchk', 'trust', 'state'] as const;

/**
 * The `vf N` lines of `ip -d link show DEV`, in both spellings iproute2 has used:
 * `vf 0 MAC 52:54:00:… , vlan 100, qos 2, spoof checking on, link-state auto, trust off` (before
 * 4.11) and `vf 0     link/ether 52:54:00:… brd ff:…, vlan 100, …` (later).
 */
export function parseVfLines(text: string): Record<number, VfObserved> {
  const out: Record<number, VfObserved> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*vf (\d+)\s+(?:MAC|link\/ether) ([0-9a-fA-F:]{17})(.*)$/.exec(line);
    if (!m) continue;
    const rest = m[3];
    const word = (re: RegExp) => re.exec(rest)?.[1] ?? null;
    const onOff = (re: RegExp) => {
      const v = word(re);
      return v === null ? null : v === 'on';
    };
    const state = word(/link-state (auto|enable|disable)/);
    out[Number(m[1])] = {
      mac: m[2].toLowerCase(),
      vlan: Number(word(/(?:^|,\s*)vlan (\d+)/) ?? 0),
      qos: Number(word(/qos (\d+)/) ?? 0),
      spoofchk: onOff(/spoof checking (on|off)/),
      trust: onOff(/trust (on|off)/),
      state: state as VfObserved['state'],
    };
  }
  return out;
}

/** The declared fields of a VF as one line, in a fixed order: what plan shows before → after. */
export function describeVf(want: VfSettings, have: VfObserved | null): string {
  const parts: string[] = [];
  for (const f of VF_FIELDS) {
    if (want[f] === undefined) continue;
    const v = have ? have[f] : null;
    parts.push(`${f} ${v === null ? '?' : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)}`);
  }
  return parts.join(', ');
}

export function desiredVf(want: VfSettings): string {
  const as: VfObserved = {
    mac: want.mac?.toLowerCase() ?? '',
    vlan: want.vlan ?? 0,
    qos: want.qos ?? 0,
    spoofchk: want.spoofchk ?? null,
    trust: want.trust ?? null,
    state: want.state ?? null,
  };
  return describeVf(want, as);
}

/** `ip link set dev DEV vf N …` arguments after `vf N`; vlan and qos go together (qos needs a vlan). */
export function vfArgs(want: VfSettings): string[] {
  const args: string[] = [];
  if (want.mac !== undefined) args.push('mac', want.mac.toLowerCase());
  if (want.vlan !== undefined || want.qos !== undefined) {
    args.push('vlan', String(want.vlan ?? 0));
    if (want.qos !== undefined) args.push('qos', String(want.qos));
  }
  if (want.spoofchk !== undefined) args.push('spoofchk', want.spoofchk ? 'on' : 'off');
  if (want.trust !== undefined) args.push('trust', want.trust ? 'on' : 'off');
  if (want.state !== undefined) args.push('state', want.state);
  return args;
}

// ---- PCI addresses --------------------------------------------------------------------------

const PCI = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/;

export const isPciAddress = (s: string) => PCI.test(s.toLowerCase());

/**
 * The PCI address of VF `vf` of the PF at `pf`: routing ID = PF's + First VF Offset + vf × VF
 * Stride (PCIe SR-IOV 3.3.9/3.3.10, as the kernel's pci_iov_virtfn_bus/devfn). Known before the
 * VFs exist, so a plan can name the address a VF will have.
 */
export function vfAddress(pf: string, offset: number, stride: number, vf: number): string {
  const m = PCI.exec(pf.toLowerCase());
  if (!m) throw new Error(`not a PCI address: ${pf}`);
  const rid = Number.parseInt(m[2], 16) * 256 + Number.parseInt(m[3], 16) * 8 + Number(m[4]) + offset + vf * stride;
  const bus = Math.floor(rid / 256);
  const devfn = rid % 256;
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${m[1]}:${hex(bus, 2)}:${hex(devfn >> 3, 2)}.${devfn & 7}`;
}

/** libvirt's `<address domain='0x0000' bus='0x3b' slot='0x02' function='0x2'/>` as 0000:3b:02.2. */
export function pciFromAttributes(get: (name: string) => string | null): string | null {
  const parts = ['domain', 'bus', 'slot', 'function'].map((n) => get(n));
  if (parts.some((p) => p === null)) return null;
  const [d, b, s, f] = parts.map((p) => Number.parseInt(p!, p!.startsWith('0x') ? 16 : 10));
  if ([d, b, s, f].some((n) => Number.isNaN(n))) return null;
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${hex(d, 4)}:${hex(b, 2)}:${hex(s, 2)}.${f}`;
}

export function pciAttributes(address: string): Record<'domain' | 'bus' | 'slot' | 'function', string> {
  const m = PCI.exec(address.toLowerCase());
  if (!m) throw new Error(`not a PCI address: ${address}`);
  return { domain: `0x${m[1]}`, bus: `0x${m[2]}`, slot: `0x${m[3]}`, function: `0x${m[4]}` };
}

// ---- domains holding PCI devices ------------------------------------------------------------

let xmldomLib: typeof import('@xmldom/xmldom') | undefined;
const xmldom = () => (xmldomLib ??= createRequire(import.meta.url)('@xmldom/xmldom') as typeof import('@xmldom/xmldom'));

/** PCI addresses a domain XML passes through: `<hostdev type='pci'>` and `<interface type='hostdev'>`. */
export function assignedPciAddresses(domainXml: string): string[] {
  let doc: ReturnType<InstanceType<ReturnType<typeof xmldom>['DOMParser']>['parseFromString']>;
  try {
    doc = new (xmldom().DOMParser)({ onError: () => undefined }).parseFromString(domainXml, 'text/xml');
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (el: Element) => {
    const tag = el.tagName;
    if ((tag === 'hostdev' && el.getAttribute('type') === 'pci') || (tag === 'interface' && el.getAttribute('type') === 'hostdev')) {
      for (const src of Array.from(el.getElementsByTagName('source') as unknown as ArrayLike<Element>)) {
        for (const a of Array.from(src.getElementsByTagName('address') as unknown as ArrayLike<Element>)) {
          const pci = pciFromAttributes((n) => (a.hasAttribute(n) ? a.getAttribute(n) : null));
          if (pci) out.push(pci);
        }
      }
      return;
    }
    for (const k of Array.from(el.childNodes as unknown as ArrayLike<Node>)) if (k.nodeType === 1) walk(k as Element);
  };
  if (doc.documentElement) walk(doc.documentElement as Element);
  return out;
}

// ---- persistence ----------------------------------------------------------------------------

const IP = '/usr/sbin/ip';

export const sriovRulePath = (device: string) => `/etc/udev/rules.d/90-hvtune-sriov-${device}.rules`;

/**
 * The udev rule that recreates the VFs when the PF appears at boot: udev writes the attribute,
 * then runs the VF settings in order. Null when there is nothing to put back (0 VFs).
 */
export function renderSriovRule(device: string, numvfs: number, vfs: Record<string, VfSettings>): string | null {
  if (numvfs === 0) return null;
  const match = `ACTION=="add", SUBSYSTEM=="net", NAME=="${device}"`;
  const lines = [
    `# Managed by hvtune (sriov): the VFs of ${device}. Changes by hand are put back on the next run.`,
    `${match}, ATTR{device/sriov_numvfs}="${numvfs}"`,
  ];
  for (const [vf, want] of Object.entries(vfs).sort(([a], [b]) => Number(a) - Number(b))) {
    const args = vfArgs(want);
    if (args.length > 0) lines.push(`${match}, RUN+="${IP} link set dev ${device} vf ${Number(vf)} ${args.join(' ')}"`);
  }
  return `${lines.join('\n')}\n`;
}
