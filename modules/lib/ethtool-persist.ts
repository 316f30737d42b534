// What makes ethtool settings survive a reboot: the commands that set them (used live by apply
// too), and the files of each persistence mechanism — a systemd .link file, a udev rule, ifupdown
// post-up lines — plus NetworkManager's ethtool.* properties. Values arrive validated and
// resolved ('max' already a number), so nothing here quotes user text.

import { featureArgName, maskToCpuList, normaliseFeatureName } from './ethtool-parse.js';

/** Settings with every value resolved and normalised, keys as ethtool's -G/-L/-C/-k names. */
export interface EthtoolSettings {
  ring: Record<string, number>;
  channels: Record<string, number>;
  coalesce: Record<string, number | 'on' | 'off'>;
  /** long feature name → on/off */
  features: Record<string, 'on' | 'off'>;
  /** flow type → normalised letters */
  rxFlowHash: Record<string, string>;
  txqueuelen?: number;
  /** tx queue → CPU list */
  xps: Record<string, string>;
}

export type SettingGroup = keyof EthtoolSettings;

export const emptySettings = (): EthtoolSettings => ({ ring: {}, channels: {}, coalesce: {}, features: {}, rxFlowHash: {}, xps: {} });

/** How a persisted file finds the device at boot. */
export interface DeviceMatch {
  by: 'name' | 'mac' | 'pci';
  name: string;
  mac: string | null;
  pci: string | null;
}

export type LiveStep = { kind: 'cmd'; argv: string[] } | { kind: 'xps'; queue: string; mask: string };

/**
 * The steps that set `s` on `iface`, in the order that works: channels before xps (changing the
 * channel count makes virtio_net rewrite every xps map), rings and channels before offloads.
 */
export function settingSteps(iface: string, s: EthtoolSettings, xpsMask: (cpus: string) => string): LiveStep[] {
  const pairs = (r: Record<string, number | string>) => Object.entries(r).flatMap(([k, v]) => [k, String(v)]);
  const steps: LiveStep[] = [];
  if (Object.keys(s.ring).length) steps.push({ kind: 'cmd', argv: ['ethtool', '-G', iface, ...pairs(s.ring)] });
  if (Object.keys(s.channels).length) steps.push({ kind: 'cmd', argv: ['ethtool', '-L', iface, ...pairs(s.channels)] });
  if (Object.keys(s.coalesce).length) steps.push({ kind: 'cmd', argv: ['ethtool', '-C', iface, ...pairs(adaptiveFirst(s.coalesce))] });
  if (Object.keys(s.features).length)
    steps.push({ kind: 'cmd', argv: ['ethtool', '-K', iface, ...Object.entries(s.features).flatMap(([k, v]) => [featureArgName(k), v])] });
  for (const [flow, letters] of Object.entries(s.rxFlowHash)) {
    steps.push({ kind: 'cmd', argv: ['ethtool', '-N', iface, 'rx-flow-hash', flow, letters] });
  }
  if (s.txqueuelen !== undefined)
    steps.push({ kind: 'cmd', argv: ['ip', 'link', 'set', 'dev', iface, 'txqueuelen', String(s.txqueuelen)] });
  for (const [queue, cpus] of Object.entries(s.xps)) steps.push({ kind: 'xps', queue, mask: xpsMask(cpus) });
  return steps;
}

// Drivers refuse a fixed interval while adaptive moderation is on: switch adaptive first.
function adaptiveFirst(c: Record<string, number | string>): Record<string, number | string> {
  const entries = Object.entries(c);
  return Object.fromEntries([
    ...entries.filter(([k]) => k.startsWith('adaptive-')),
    ...entries.filter(([k]) => !k.startsWith('adaptive-')),
  ]);
}

const ETHTOOL = '/usr/sbin/ethtool';
const IP = '/usr/sbin/ip';
const HEADER = (what: string) => `# Managed by hvtune (ethtool): ${what}. Changes by hand are put back on the next run.\n`;

/** A step as a boot-time command line; `iface` may be udev's $name. */
function stepLine(step: LiveStep, iface: string): string {
  if (step.kind === 'xps') return `/bin/sh -c 'echo ${step.mask} > /sys/class/net/${iface}/queues/tx-${step.queue}/xps_cpus'`;
  const [tool, ...rest] = step.argv;
  return [tool === 'ip' ? IP : ETHTOOL, ...rest].join(' ');
}

function udevMatch(m: DeviceMatch): string {
  if (m.by === 'mac' && m.mac) return `ATTR{address}=="${m.mac}"`;
  if (m.by === 'pci' && m.pci) return `KERNELS=="${m.pci}"`;
  return `NAME=="${m.name}"`;
}

/** A udev rule that runs the steps when the device appears (after 80-net-setup-link names it). */
export function renderUdevRule(match: DeviceMatch, s: EthtoolSettings, xpsMask: (cpus: string) => string): string | null {
  const steps = settingSteps('$name', s, xpsMask);
  if (!steps.length) return null;
  const head = `ACTION=="add", SUBSYSTEM=="net", ${udevMatch(match)}, `;
  return (
    HEADER(`settings of ${match.name}, applied when the device appears`) +
    steps.map((st) => `${head}RUN+="${stepLine(st, '$name')}"\n`).join('')
  );
}

// systemd.link [Link] keys (systemd 250 and later) for what a .link file can hold.
const LINK_RING: Record<string, string> = {
  rx: 'RxBufferSize',
  'rx-mini': 'RxMiniBufferSize',
  'rx-jumbo': 'RxJumboBufferSize',
  tx: 'TxBufferSize',
};
const LINK_CHANNELS: Record<string, string> = { rx: 'RxChannels', tx: 'TxChannels', other: 'OtherChannels', combined: 'CombinedChannels' };
const LINK_FEATURES: Record<string, string> = {
  'rx-checksumming': 'ReceiveChecksumOffload',
  'tx-checksumming': 'TransmitChecksumOffload',
  'generic-segmentation-offload': 'GenericSegmentationOffload',
  'tcp-segmentation-offload': 'TCPSegmentationOffload',
  'tx-tcp6-segmentation': 'TCP6SegmentationOffload',
  'generic-receive-offload': 'GenericReceiveOffload',
  'large-receive-offload': 'LargeReceiveOffload',
};
const LINK_COALESCE: Record<string, [key: string, unit: 'us' | 's' | '']> = {
  'adaptive-rx': ['UseAdaptiveRxCoalesce', ''],
  'adaptive-tx': ['UseAdaptiveTxCoalesce', ''],
  'rx-usecs': ['RxCoalesceSec', 'us'],
  'rx-frames': ['RxMaxCoalescedFrames', ''],
  'rx-usecs-irq': ['RxCoalesceIrqSec', 'us'],
  'rx-frames-irq': ['RxMaxCoalescedIrqFrames', ''],
  'tx-usecs': ['TxCoalesceSec', 'us'],
  'tx-frames': ['TxMaxCoalescedFrames', ''],
  'tx-usecs-irq': ['TxCoalesceIrqSec', 'us'],
  'tx-frames-irq': ['TxMaxCoalescedIrqFrames', ''],
  'stats-block-usecs': ['StatisticsBlockCoalesceSec', 'us'],
  'pkt-rate-low': ['CoalescePacketRateLow', ''],
  'pkt-rate-high': ['CoalescePacketRateHigh', ''],
  'rx-usecs-low': ['RxCoalesceLowSec', 'us'],
  'rx-frames-low': ['RxMaxCoalescedLowFrames', ''],
  'tx-usecs-low': ['TxCoalesceLowSec', 'us'],
  'tx-frames-low': ['TxMaxCoalescedLowFrames', ''],
  'rx-usecs-high': ['RxCoalesceHighSec', 'us'],
  'rx-frames-high': ['RxMaxCoalescedHighFrames', ''],
  'tx-usecs-high': ['TxCoalesceHighSec', 'us'],
  'tx-frames-high': ['TxMaxCoalescedHighFrames', ''],
  'sample-interval': ['CoalescePacketRateSampleIntervalSec', 's'],
};

/** Split settings into what a .link file holds and the rest (for a udev rule). */
export function splitForLinkFile(s: EthtoolSettings): { link: string[]; rest: EthtoolSettings } {
  const link: string[] = [];
  const rest = emptySettings();
  const take = <V>(from: Record<string, V>, keys: Record<string, unknown>, into: Record<string, V>, line: (k: string, v: V) => string) => {
    for (const [k, v] of Object.entries(from)) k in keys ? link.push(line(k, v)) : (into[k] = v);
  };
  take(s.ring, LINK_RING, rest.ring, (k, v) => `${LINK_RING[k]}=${v}`);
  take(s.channels, LINK_CHANNELS, rest.channels, (k, v) => `${LINK_CHANNELS[k]}=${v}`);
  take(s.features, LINK_FEATURES, rest.features, (k, v) => `${LINK_FEATURES[k]}=${v === 'on' ? 'yes' : 'no'}`);
  take(s.coalesce, LINK_COALESCE, rest.coalesce, (k, v) => {
    const [key, unit] = LINK_COALESCE[k];
    return `${key}=${v === 'on' ? 'yes' : v === 'off' ? 'no' : `${v}${unit}`}`;
  });
  if (s.txqueuelen !== undefined) link.push(`TransmitQueueLength=${s.txqueuelen}`);
  rest.rxFlowHash = { ...s.rxFlowHash };
  rest.xps = { ...s.xps };
  return { link, rest };
}

/**
 * A .link file. Only the first .link file matching a device applies, so this one repeats the
 * naming and MAC policies of systemd's 99-default.link: without them the device would lose its
 * predictable name. OriginalName is the kernel's name (eth0), so a device named ens3 is matched by
 * MAC address or PCI path instead.
 */
export function renderLinkFile(match: DeviceMatch, lines: string[]): string | null {
  if (!lines.length) return null;
  const matchLine =
    match.by === 'pci' && match.pci ? `Path=pci-${match.pci}` : match.mac ? `MACAddress=${match.mac}` : `OriginalName=${match.name}`;
  return (
    HEADER(`settings of ${match.name}`) +
    `[Match]\n${matchLine}\n\n[Link]\n` +
    'NamePolicy=keep kernel database onboard slot path\nAlternativeNamesPolicy=database onboard slot path\nMACAddressPolicy=persistent\n' +
    lines.map((l) => `${l}\n`).join('')
  );
}

export const IFUPDOWN_BEGIN = '# hvtune ethtool begin';
export const IFUPDOWN_END = '# hvtune ethtool end';

/** post-up lines, indented for a stanza. */
export function ifupdownLines(iface: string, s: EthtoolSettings, xpsMask: (cpus: string) => string): string[] {
  return settingSteps(iface, s, xpsMask).map(
    (st) =>
      `    post-up ${st.kind === 'xps' ? `echo ${st.mask} > /sys/class/net/${iface}/queues/tx-${st.queue}/xps_cpus` : stepLine(st, iface)}`,
  );
}

/** The interfaces.d file: a manual stanza holding the post-up lines (when no stanza exists elsewhere). */
export function renderIfupdownFile(iface: string, lines: string[]): string | null {
  if (!lines.length) return null;
  return HEADER(`settings of ${iface}, applied by ifup`) + `iface ${iface} inet manual\n${lines.join('\n')}\n`;
}

/** /etc/network/interfaces with the post-up block inside the existing `iface IF` stanza (replacing an older block). */
export function withStanzaBlock(content: string, iface: string, lines: string[]): string {
  const kept: string[] = [];
  let inBlock = false;
  for (const line of content.split('\n')) {
    if (line.trim() === IFUPDOWN_BEGIN) inBlock = true;
    else if (line.trim() === IFUPDOWN_END) inBlock = false;
    else if (!inBlock) kept.push(line);
  }
  if (!lines.length) return kept.join('\n');
  const at = kept.findIndex((l) => new RegExp(`^\\s*iface\\s+${iface.replace(/[.]/g, '\\.')}\\s`).test(l));
  if (at < 0) return kept.join('\n');
  kept.splice(at + 1, 0, `    ${IFUPDOWN_BEGIN}`, ...lines, `    ${IFUPDOWN_END}`);
  return kept.join('\n');
}

/** The lines of hvtune's post-up block in /etc/network/interfaces (not the user's own lines). */
export function ifupdownBlock(content: string): string {
  const out: string[] = [];
  let inBlock = false;
  for (const line of content.split('\n')) {
    if (line.trim() === IFUPDOWN_BEGIN) inBlock = true;
    else if (line.trim() === IFUPDOWN_END) inBlock = false;
    else if (inBlock) out.push(line);
  }
  return out.join('\n');
}

/** Does /etc/network/interfaces define a stanza for iface? */
export function hasStanza(content: string | null, iface: string): boolean {
  return !!content?.split('\n').some((l) => new RegExp(`^\\s*iface\\s+${iface.replace(/[.]/g, '\\.')}\\s`).test(l));
}

/** NetworkManager ethtool.* properties for what it holds; the rest goes to a udev rule. */
export function splitForNetworkManager(s: EthtoolSettings): { props: Record<string, string>; rest: EthtoolSettings } {
  const props: Record<string, string> = {};
  const rest = emptySettings();
  for (const [k, v] of Object.entries(s.ring)) props[`ethtool.ring-${k}`] = String(v);
  for (const [k, v] of Object.entries(s.channels)) props[`ethtool.channels-${k}`] = String(v);
  for (const [k, v] of Object.entries(s.coalesce)) props[`ethtool.coalesce-${k}`] = v === 'on' ? '1' : v === 'off' ? '0' : String(v);
  for (const [k, v] of Object.entries(s.features)) props[`ethtool.feature-${featureArgName(k)}`] = v;
  rest.rxFlowHash = { ...s.rxFlowHash };
  rest.xps = { ...s.xps };
  if (s.txqueuelen !== undefined) rest.txqueuelen = s.txqueuelen;
  return { props, rest };
}

/**
 * The settings hvtune's own boot-time commands hold (a udev rule's RUN lines, ifupdown post-up
 * lines): what other tasks persisted for the same device. Several ethtool tasks on one NIC (rings
 * in one, offloads in another) share its file: each task keeps the others' settings and adds its
 * own, instead of writing them out on every run. A setting a task no longer declares stays until
 * the file is removed by hand: persisting is additive, as the live values are.
 */
export function settingsFromCommands(text: string | null): EthtoolSettings {
  const s = emptySettings();
  if (!text) return s;
  for (const line of text.split('\n')) {
    const xps = /echo ([0-9a-fA-F,]+) > \/sys\/class\/net\/[^/]+\/queues\/tx-(\d+)\/xps_cpus/.exec(line);
    if (xps) {
      const cpus = maskToCpuList(xps[1]);
      if (cpus !== null) s.xps[xps[2]] = cpus;
      continue;
    }
    const qlen = /\/ip link set dev \S+ txqueuelen (\d+)/.exec(line);
    if (qlen) {
      s.txqueuelen = Number(qlen[1]);
      continue;
    }
    const m = /\/ethtool (-[GLCKN]) \S+ ([^"]+)/.exec(line);
    if (!m) continue;
    const words = m[2].trim().split(/\s+/);
    if (m[1] === '-N') {
      if (words[0] === 'rx-flow-hash' && words.length >= 3) s.rxFlowHash[words[1]] = words[2];
      continue;
    }
    for (let i = 0; i + 1 < words.length; i += 2) {
      const [k, v] = [words[i], words[i + 1]];
      const num = /^\d+$/.test(v) ? Number(v) : null;
      if (m[1] === '-G' && num !== null) s.ring[k] = num;
      else if (m[1] === '-L' && num !== null) s.channels[k] = num;
      else if (m[1] === '-C') s.coalesce[k] = num ?? (v === 'on' ? 'on' : 'off');
      else if (m[1] === '-K' && (v === 'on' || v === 'off')) s.features[normaliseFeatureName(k)] = v;
    }
  }
  return s;
}

/** .link file [Link] keys back into settings (the inverse of splitForLinkFile's lines). */
export function settingsFromLinkFile(text: string | null): EthtoolSettings {
  const s = emptySettings();
  if (!text) return s;
  const invert = (table: Record<string, string>) => new Map(Object.entries(table).map(([k, v]) => [v, k]));
  const ring = invert(LINK_RING);
  const channels = invert(LINK_CHANNELS);
  const features = invert(LINK_FEATURES);
  const coalesce = new Map(Object.entries(LINK_COALESCE).map(([k, [key, unit]]) => [key, [k, unit] as const]));
  for (const line of text.split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, key, value] = m;
    if (key === 'TransmitQueueLength' && /^\d+$/.test(value)) s.txqueuelen = Number(value);
    else if (ring.has(key) && /^\d+$/.test(value)) s.ring[ring.get(key)!] = Number(value);
    else if (channels.has(key) && /^\d+$/.test(value)) s.channels[channels.get(key)!] = Number(value);
    else if (features.has(key)) s.features[features.get(key)!] = value === 'yes' ? 'on' : 'off';
    else if (coalesce.has(key)) {
      const [name, unit] = coalesce.get(key)!;
      const bare = unit ? value.replace(new RegExp(`${unit}$`), '') : value;
      s.coalesce[name] = value === 'yes' ? 'on' : value === 'no' ? 'off' : Number(bare);
    }
  }
  return s;
}

/** Earlier settings overlaid by this task's: every group merged key by key. */
export function mergeSettings(prior: EthtoolSettings, own: EthtoolSettings): EthtoolSettings {
  const merged: EthtoolSettings = {
    ring: { ...prior.ring, ...own.ring },
    channels: { ...prior.channels, ...own.channels },
    coalesce: { ...prior.coalesce, ...own.coalesce },
    features: { ...prior.features, ...own.features },
    rxFlowHash: { ...prior.rxFlowHash, ...own.rxFlowHash },
    xps: { ...prior.xps, ...own.xps },
  };
  const txqueuelen = own.txqueuelen ?? prior.txqueuelen;
  if (txqueuelen !== undefined) merged.txqueuelen = txqueuelen;
  return merged;
}
