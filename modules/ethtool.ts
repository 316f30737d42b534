// ethtool: NIC rings, channels, offloads, coalescing, rx-flow-hash, txqueuelen and xps, set live
// and persisted (systemd .link file, udev rule, ifupdown post-up lines or NetworkManager) so they
// survive a reboot. What the driver cannot do is found by plan, in check mode, before any change.

import type { Change, HostHandle, Module, PlanContext, ReadRequest, ReadResult } from '../src/module.js';
import type { Facts } from '../src/facts.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { joinArgv, sh } from '../src/quote.js';
import { normaliseCpuset } from './lib/cpuset.js';
import {
  type FeatureState,
  type Limits,
  cpuListToMask,
  errorLine,
  maskToCpuList,
  normaliseFeatureName,
  normaliseFlowHash,
  normaliseOnOff,
  parseCoalesce,
  parseDriverInfo,
  parseFeatures,
  parseFlowHash,
  parseLimits,
  splitScriptOutput,
} from './lib/ethtool-parse.js';
import {
  type DeviceMatch,
  type EthtoolSettings,
  emptySettings,
  hasStanza,
  ifupdownBlock,
  ifupdownLines,
  mergeSettings,
  renderIfupdownFile,
  renderLinkFile,
  renderUdevRule,
  settingSteps,
  settingsFromCommands,
  settingsFromLinkFile,
  splitForLinkFile,
  splitForNetworkManager,
  withStanzaBlock,
} from './lib/ethtool-persist.js';

type Device = string | { mac: string } | { pci: string };
type Amount = number | 'max';
type Mechanism = 'link-file' | 'udev' | 'ifupdown' | 'networkmanager';

export interface EthtoolArgs {
  device: Device;
  ring?: Record<string, Amount>;
  channels?: Record<string, Amount>;
  features?: Record<string, string | boolean>;
  coalesce?: Record<string, number | string | boolean>;
  rx_flow_hash?: Record<string, string>;
  txqueuelen?: number;
  xps?: Record<string, string>;
  persist?: 'auto' | Mechanism | 'no';
}

/** A probe's value, or the error text ethtool printed instead. */
interface Probe<T> {
  value: T | null;
  error: string | null;
}

export interface EthtoolObserved {
  device: {
    name: string | null;
    candidates: string[];
    driver: string | null;
    mac: string | null;
    pci: string | null;
    /** virtio feature bits ('0'/'1' per bit) of a virtio NIC, from /sys/class/net/IF/device/features */
    virtioFeatures?: string | null;
  };
  ethtoolMissing: boolean;
  live: {
    ring: Probe<Limits> | null;
    channels: Probe<Limits> | null;
    features: Probe<Record<string, FeatureState>> | null;
    coalesce: Probe<Record<string, number | 'on' | 'off' | null>> | null;
    rxFlowHash: Record<string, Probe<string>>;
    txqueuelen: number | null;
    /** tx queue → CPU list ('' = none, null = unreadable) */
    xps: Record<string, string | null>;
  };
  /** persistence files this task manages, path → content (null = absent); NetworkManager's properties */
  persisted: { files: Record<string, string | null>; nm: { connection: string | null; props: Record<string, string> } | null };
}

type ChangeData =
  /** `device` is the interface name plan resolved; `value` is the text `after` shows. */
  | { kind: 'live'; device: string; group: LiveGroup; key: string; value: string }
  | { kind: 'file'; path: string; content: string | null }
  | { kind: 'nm'; connection: string; props: Record<string, string> };
type LiveGroup = 'ring' | 'channels' | 'coalesce' | 'features' | 'rx-flow-hash' | 'txqueuelen' | 'xps';

const NET = '/sys/class/net';
const VIRTIO_NET_F_NOTF_COAL = 53;
const VIRTIO_NAPI_COALESCE = new Set(['rx-frames', 'tx-frames']);
const FACT_MECHANISM: Record<string, Mechanism> = {
  'systemd-link': 'link-file',
  NetworkManager: 'networkmanager',
  ifupdown: 'ifupdown',
  udev: 'udev',
};

const IFNAME = '^[A-Za-z0-9_.:@-]{1,15}$';
const amount = (what: string) => ({
  anyOf: [
    { type: 'integer', minimum: 0, maximum: 1_000_000 },
    { type: 'string', const: 'max' },
  ],
  'x-message': 'must be a number or max',
  description: `${what}: a number, or max for the device's pre-set maximum.`,
});
const onOff = { anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['on', 'off'] }], 'x-message': 'must be on or off' };
const COALESCE_KEYS = [
  'adaptive-rx',
  'adaptive-tx',
  'rx-usecs',
  'rx-frames',
  'rx-usecs-irq',
  'rx-frames-irq',
  'tx-usecs',
  'tx-frames',
  'tx-usecs-irq',
  'tx-frames-irq',
  'stats-block-usecs',
  'sample-interval',
  'pkt-rate-low',
  'pkt-rate-high',
  'rx-usecs-low',
  'rx-frames-low',
  'tx-usecs-low',
  'tx-frames-low',
  'rx-usecs-high',
  'rx-frames-high',
  'tx-usecs-high',
  'tx-frames-high',
];
const FLOW_TYPES = ['tcp4', 'udp4', 'ah4', 'esp4', 'sctp4', 'tcp6', 'udp6', 'ah6', 'esp6', 'sctp6'];

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['device'],
  properties: {
    device: {
      description: 'The interface: its name (ens3), or {mac: 52:54:00:12:34:56}, or {pci: 0000:00:03.0}; resolved to the name on each run.',
      anyOf: [
        { type: 'string', pattern: IFNAME },
        {
          type: 'object',
          additionalProperties: false,
          required: ['mac'],
          properties: { mac: { type: 'string', pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$', description: 'MAC address.' } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['pci'],
          properties: {
            pci: {
              type: 'string',
              pattern: '^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\\.[0-7]$',
              description: 'PCI address (domain:bus:slot.function).',
            },
          },
        },
      ],
      'x-message': 'must be an interface name, {mac: XX:XX:XX:XX:XX:XX} or {pci: 0000:00:03.0}',
    },
    ring: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      description: 'Ring buffer sizes (ethtool -G), bounded by the pre-set maximums of ethtool -g.',
      properties: Object.fromEntries(['rx', 'rx-mini', 'rx-jumbo', 'tx'].map((k) => [k, amount(`${k} ring entries`)])),
    },
    channels: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      description:
        'Channel (queue) counts (ethtool -L). On a virtio-net guest, combined is bounded by the queues the host gave (seed 001).',
      properties: Object.fromEntries(['rx', 'tx', 'other', 'combined'].map((k) => [k, amount(`${k} channels`)])),
    },
    features: {
      type: 'object',
      minProperties: 1,
      description:
        'Offloads (ethtool -K), by the names ethtool -k prints (generic-receive-offload) or the short ones (gro, tso, gso, lro, sg, rx, tx, rxvlan, txvlan, ntuple, rxhash), on or off.',
      propertyNames: { pattern: '^[a-z0-9][a-z0-9_-]{0,47}$', 'x-message': 'must be a feature name such as gro or tx-nocache-copy' },
      additionalProperties: onOff,
    },
    coalesce: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      description: 'Interrupt coalescing (ethtool -C): adaptive-rx/adaptive-tx on or off, the others numbers.',
      properties: Object.fromEntries(
        COALESCE_KEYS.map((k) => [
          k,
          k.startsWith('adaptive-')
            ? { ...onOff, description: `${k} on or off.` }
            : { type: 'integer', minimum: 0, maximum: 4_294_967_295, description: `${k} (ethtool -C ${k}).` },
        ]),
      ),
    },
    rx_flow_hash: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      description:
        'Fields hashed to spread a flow type over rx queues (ethtool -N rx-flow-hash): letters m v t s d f n (r = discard); sdfn = IP addresses and ports.',
      properties: Object.fromEntries(
        FLOW_TYPES.map((f) => [
          f,
          {
            type: 'string',
            pattern: '^([mvtsdfn]{1,7}|r)$',
            'x-message': 'must be letters from m v t s d f n, or r',
            description: `Hash fields for ${f} flows.`,
          },
        ]),
      ),
    },
    txqueuelen: {
      type: 'integer',
      minimum: 0,
      maximum: 4_294_967_295,
      description: 'Transmit queue length (ip link set dev IF txqueuelen N).',
    },
    xps: {
      type: 'object',
      minProperties: 1,
      description:
        'Transmit packet steering: tx queue number → CPU list ("0-1"), written as a hex mask to /sys/class/net/IF/queues/tx-N/xps_cpus (seed 003).',
      propertyNames: { pattern: '^[0-9]{1,4}$', 'x-message': 'must be a tx queue number' },
      additionalProperties: {
        type: 'string',
        pattern: '^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$',
        'x-message': 'must be a CPU list such as 0-1 or 2,3',
      },
    },
    persist: {
      type: 'string',
      enum: ['auto', 'link-file', 'udev', 'ifupdown', 'networkmanager', 'no'],
      description:
        'How the settings survive a reboot. auto (default): the mechanism the facts find first. link-file: /etc/systemd/network/10-hvtune-IF.link ' +
        '(and a udev rule for what .link files cannot hold: rx-flow-hash, xps, most features). udev: /etc/udev/rules.d/90-hvtune-ethtool-IF.rules. ' +
        'ifupdown: post-up lines in /etc/network/interfaces.d/hvtune-IF, or in the iface stanza of /etc/network/interfaces. ' +
        'networkmanager: ethtool.* properties of the connection (plus a udev rule for the rest). no: live only.',
    },
  },
} as const;

/** Part of the persistence file names: the interface name, or the MAC / PCI address it is named by. */
export function deviceKey(device: Device): string {
  if (typeof device === 'string') return device;
  return 'mac' in device ? `mac-${device.mac.toLowerCase().replace(/:/g, '')}` : `pci-${device.pci.toLowerCase().replace(/:/g, '_')}`;
}
const describeDevice = (d: Device) => (typeof d === 'string' ? d : 'mac' in d ? `with MAC ${d.mac}` : `at PCI ${d.pci}`);
export const linkFilePath = (d: Device) => `/etc/systemd/network/10-hvtune-${deviceKey(d)}.link`;
export const udevRulePath = (d: Device) => `/etc/udev/rules.d/90-hvtune-ethtool-${deviceKey(d)}.rules`;
export const ifupdownPath = (d: Device) => `/etc/network/interfaces.d/hvtune-${deviceKey(d)}`;
const INTERFACES = '/etc/network/interfaces';

/** The mechanism for this host: the one asked for, or with auto the first the facts offer; null = none found. */
export function persistMechanism(args: EthtoolArgs, facts: Facts): Mechanism | 'no' | null {
  const asked = args.persist ?? 'auto';
  if (asked !== 'auto') return asked;
  const offered = (facts.ethtoolPersistence ?? []).map((m) => FACT_MECHANISM[m]).filter(Boolean);
  return offered[0] ?? null;
}

function persistPaths(args: EthtoolArgs, mechanism: Mechanism | 'no' | null): string[] {
  if (mechanism === 'link-file') return [linkFilePath(args.device), udevRulePath(args.device)];
  if (mechanism === 'udev' || mechanism === 'networkmanager') return [udevRulePath(args.device)];
  if (mechanism === 'ifupdown') return [ifupdownPath(args.device), INTERFACES];
  return [];
}

/** One script: find the interface, then every probe the task needs, each in its own section. */
export function liveScript(args: EthtoolArgs, withNetworkManager = false): string {
  const d = args.device;
  const [name, mac, pci] = typeof d === 'string' ? [d, '', ''] : 'mac' in d ? ['', d.mac.toLowerCase(), ''] : ['', '', d.pci.toLowerCase()];
  const probes: string[] = ['sec i ethtool -i "$dev"'];
  if (args.ring) probes.push('sec g ethtool -g "$dev"');
  if (args.channels) probes.push('sec l ethtool -l "$dev"');
  if (args.features) probes.push('sec k ethtool -k "$dev"');
  if (args.coalesce) probes.push('sec c ethtool -c "$dev"');
  for (const flow of Object.keys(args.rx_flow_hash ?? {})) probes.push(sh`sec n:${flow} ethtool -n "$dev" rx-flow-hash ${flow}`);
  probes.push('sec sys sysinfo');
  if (withNetworkManager) probes.push('sec nm nminfo');
  return [
    sh`W_NAME=${name} W_MAC=${mac} W_PCI=${pci}`,
    'sec() { printf "@@hvtune %s\\n" "$1"; shift; "$@" 2>&1; printf "@@hvtune-rc %s\\n" "$?"; }',
    'matches() { if [ -n "$W_NAME" ]; then [ "$1" = "$W_NAME" ]; elif [ -n "$W_MAC" ]; then [ "$(tr A-F a-f < /sys/class/net/$1/address 2>/dev/null)" = "$W_MAC" ]; else case "$(readlink -f /sys/class/net/$1/device 2>/dev/null)/" in */"$W_PCI"/*) true;; *) false;; esac; fi; }',
    // A MAC is shared by a NIC and its VLANs or bond: prefer the device-backed interface.
    'find() { for d in /sys/class/net/*; do n=${d##*/}; matches "$n" || continue; k=virtual; [ -e "$d/device" ] && k=device; echo "$n $k"; if [ -z "$dev" ] || { [ "$k" = device ] && [ "$dk" = virtual ]; }; then dev=$n; dk=$k; fi; done; }',
    'sysinfo() { d=/sys/class/net/$dev; echo "address $(cat "$d/address")"; echo "txqueuelen $(cat "$d/tx_queue_len")"; echo "devpath $(readlink -f "$d/device" 2>/dev/null)"; echo "virtio-features $(cat "$d/device/features" 2>/dev/null)"; for q in "$d"/queues/tx-*; do [ -e "$q" ] && echo "xps ${q##*/tx-} $(cat "$q/xps_cpus" 2>/dev/null || echo -)"; done; }',
    'nminfo() { command -v nmcli >/dev/null || return 127; c=$(nmcli -g GENERAL.CONNECTION device show "$dev") || return 1; echo "connection $c"; [ -n "$c" ] && nmcli -t -f ethtool connection show "$c"; }',
    'dev= dk=',
    'printf "@@hvtune match\\n"; find; printf "@@hvtune-rc 0\\n"',
    '[ -n "$dev" ] || exit 0',
    ...probes,
  ].join('\n');
}

function read(args: EthtoolArgs, ctx: PlanContext): ReadRequest[] {
  const mechanism = persistMechanism(args, ctx.facts);
  return [
    { kind: 'script', script: liveScript(args, mechanism === 'networkmanager') },
    ...persistPaths(args, mechanism).map((path): ReadRequest => ({ kind: 'file', path })),
  ];
}

const probe = <T>(s: { text: string; code: number | null } | undefined, parse: (t: string) => T | null): Probe<T> | null =>
  s === undefined ? null : s.code === 0 ? { value: parse(s.text), error: null } : { value: null, error: errorLine(s.text) };

/** The live part of what the script printed. */
export function parseLive(
  args: EthtoolArgs,
  stdout: string,
): Omit<EthtoolObserved, 'persisted'> & { nm: EthtoolObserved['persisted']['nm'] } {
  const sec = splitScriptOutput(stdout);
  const candidates = (sec.get('match')?.text ?? '').split('\n').filter(Boolean);
  const chosen = candidates.find((c) => c.endsWith(' device')) ?? candidates[0];
  const sys = new Map<string, string>();
  const xps: Record<string, string | null> = {};
  for (const line of (sec.get('sys')?.text ?? '').split('\n')) {
    const m = /^([\w-]+) ?(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'xps') {
      const [queue, mask] = m[2].split(' ');
      xps[queue] = maskToCpuList(mask ?? '');
    } else sys.set(m[1], m[2].trim());
  }
  const pci = /([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])(?!.*[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])/.exec(sys.get('devpath') ?? '');
  const info = sec.get('i');
  const txq = sys.get('txqueuelen');
  const nmSec = sec.get('nm');
  let nm: EthtoolObserved['persisted']['nm'] = null;
  if (nmSec && nmSec.code === 0) {
    const props: Record<string, string> = {};
    let connection: string | null = null;
    for (const line of nmSec.text.split('\n')) {
      if (line.startsWith('connection ')) connection = line.slice(11).trim() || null;
      const m = /^(ethtool\.[a-z0-9-]+):(.*)$/.exec(line);
      if (m && m[2] !== '' && m[2] !== '--') props[m[1]] = m[2];
    }
    nm = { connection, props };
  }
  return {
    device: {
      name: chosen ? chosen.split(' ')[0] : null,
      candidates: candidates.map((c) => c.split(' ')[0]),
      driver: info ? parseDriverInfo(info.text).driver : null,
      mac: sys.get('address') || null,
      pci: pci ? pci[1] : null,
      virtioFeatures: sys.get('virtio-features') || null,
    },
    ethtoolMissing: info?.code === 127,
    live: {
      ring: probe(sec.get('g'), parseLimits),
      channels: probe(sec.get('l'), parseLimits),
      features: probe(sec.get('k'), parseFeatures),
      coalesce: probe(sec.get('c'), parseCoalesce),
      rxFlowHash: Object.fromEntries(
        Object.keys(args.rx_flow_hash ?? {}).map((f) => [f, probe(sec.get(`n:${f}`), parseFlowHash) ?? { value: null, error: 'not read' }]),
      ),
      txqueuelen: txq !== undefined && /^\d+$/.test(txq) ? Number(txq) : null,
      xps,
    },
    nm,
  };
}

function parse(args: EthtoolArgs, results: ReadResult[]): EthtoolObserved {
  const [script, ...files] = results;
  const { nm, ...live } = parseLive(args, script.kind === 'script' || script.kind === 'cmd' ? script.stdout : '');
  const persisted: EthtoolObserved['persisted'] = { files: {}, nm };
  for (const f of files) if (f.kind === 'file') persisted.files[f.path] = f.content;
  return { ...live, persisted };
}

/** Live value of one setting as text, as plan and the read-back compare it; null = cannot be read. */
function liveText(l: EthtoolObserved['live'], group: LiveGroup, key: string): string | null {
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  if (group === 'ring') return text(l.ring?.value?.current[key]);
  if (group === 'channels') return text(l.channels?.value?.current[key]);
  if (group === 'coalesce') return text(l.coalesce?.value?.[key]);
  if (group === 'features') return l.features?.value?.[key] ? (l.features.value[key].on ? 'on' : 'off') : null;
  if (group === 'rx-flow-hash') return l.rxFlowHash[key]?.value ?? null;
  if (group === 'txqueuelen') return text(l.txqueuelen);
  return l.xps[key] ?? null;
}

/** Desired settings resolved against the device ('max', feature names, hash letters), or the problems found. */
function resolve(args: EthtoolArgs, o: EthtoolObserved, facts: Facts): { settings: EthtoolSettings; problems: string[] } {
  const s = emptySettings();
  const problems: string[] = [];
  const dev = `${o.device.name} (driver ${o.device.driver ?? 'unknown'})`;
  const limited = (group: 'ring' | 'channels', wanted: Record<string, Amount> | undefined, what: string, flag: string) => {
    if (!wanted) return;
    const p = o.live[group];
    if (!p?.value) return void problems.push(`${dev} does not support ${what} (ethtool ${flag}: ${p?.error ?? 'no output'})`);
    for (const [key, want] of Object.entries(wanted)) {
      const max = p.value.max[key];
      if (max === null || max === undefined || (max === 0 && want !== 0)) {
        const offered = Object.entries(p.value.max)
          .filter(([, v]) => v)
          .map(([k]) => k);
        problems.push(
          `${dev} does not support ${what} ${key} (pre-set maximum n/a${offered.length ? `; it offers ${offered.join(', ')}` : ''})`,
        );
      } else if (want !== 'max' && want > max) {
        const hint =
          o.device.driver === 'virtio_net' && group === 'channels'
            ? `: the host gives this NIC ${max} queues (libvirt <driver name='vhost' queues='N'/>)`
            : '';
        problems.push(`${what} ${key} ${want} exceeds the pre-set maximum ${max} of ${dev}${hint}`);
      } else s[group][key] = want === 'max' ? max : want;
    }
  };
  limited('ring', args.ring, 'ring', '-g');
  limited('channels', args.channels, 'channels', '-l');
  if (args.features) {
    const p = o.live.features;
    for (const [name, value] of Object.entries(args.features)) {
      const long = normaliseFeatureName(name);
      const want = normaliseOnOff(value)!;
      const have = p?.value?.[long];
      if (!have) problems.push(`${dev} has no feature ${name}${p?.error ? ` (ethtool -k: ${p.error})` : '; ethtool -k lists them'}`);
      else if (have.fixed && (have.on ? 'on' : 'off') !== want)
        problems.push(`feature ${long} of ${dev} is fixed ${have.on ? 'on' : 'off'}: the driver cannot turn it ${want}`);
      else s.features[long] = want;
    }
  }
  if (args.coalesce) {
    const p = o.live.coalesce;
    if (!p?.value) problems.push(`${dev} does not support interrupt coalescing (ethtool -c: ${p?.error ?? 'no output'})`);
    else
      for (const [key, value] of Object.entries(args.coalesce)) {
        if (p.value[key] === null || p.value[key] === undefined)
          problems.push(`${dev} does not support coalesce ${key} (ethtool -c shows n/a)`);
        else if (
          o.device.driver === 'virtio_net' &&
          !VIRTIO_NAPI_COALESCE.has(key) &&
          o.device.virtioFeatures?.[VIRTIO_NET_F_NOTF_COAL] !== '1'
        ) {
          // ethtool -c shows these for every virtio NIC, but only a device offering notification
          // coalescing accepts them; finding that out in apply would be too late.
          problems.push(
            `${dev} cannot set coalesce ${key}: the virtio device does not offer notification coalescing (VIRTIO_NET_F_NOTF_COAL); only tx-frames/rx-frames (napi) can change`,
          );
        } else s.coalesce[key] = key.startsWith('adaptive-') ? normaliseOnOff(value)! : Number(value);
      }
  }
  for (const [flow, letters] of Object.entries(args.rx_flow_hash ?? {})) {
    const p = o.live.rxFlowHash[flow];
    if (p?.error || p?.value === null)
      problems.push(`${dev} does not support rx-flow-hash ${flow} (ethtool -n: ${p?.error ?? 'unreadable output'})`);
    else s.rxFlowHash[flow] = normaliseFlowHash(letters);
  }
  if (args.txqueuelen !== undefined) s.txqueuelen = args.txqueuelen;
  const online = new Set(facts.cpu?.online ?? []);
  // After a channel change the device has that many tx queues; xps can only map those.
  const ch = s.channels;
  const txQueues = 'combined' in ch || 'tx' in ch ? (ch.combined ?? 0) + (ch.tx ?? 0) : Object.keys(o.live.xps).length;
  for (const [queue, cpus] of Object.entries(args.xps ?? {})) {
    const list = normaliseCpuset(cpus);
    const missing = online.size ? cpusNotOnline(list, online) : '';
    if (Number(queue) >= txQueues) problems.push(`xps tx-${queue}: ${dev} has ${txQueues} tx queues (tx-0…tx-${txQueues - 1})`);
    else if (missing) problems.push(`xps tx-${queue}: CPUs ${missing} are not online on this host`);
    else s.xps[queue] = list;
  }
  return { settings: s, problems };
}

function cpusNotOnline(list: string, online: Set<number>): string {
  return list
    .split(',')
    .flatMap((r) => {
      const [a, b = a] = r.split('-').map(Number);
      return Array.from({ length: b - a + 1 }, (_, i) => a + i);
    })
    .filter((c) => !online.has(c))
    .join(',');
}

const GROUPS: [LiveGroup, (s: EthtoolSettings) => Record<string, unknown>][] = [
  ['ring', (s) => s.ring],
  ['channels', (s) => s.channels],
  ['coalesce', (s) => s.coalesce],
  ['features', (s) => s.features],
  ['rx-flow-hash', (s) => s.rxFlowHash],
  ['txqueuelen', (s) => (s.txqueuelen === undefined ? {} : { txqueuelen: s.txqueuelen })],
  ['xps', (s) => s.xps],
];
const targetOf = (iface: string, group: LiveGroup, key: string) =>
  group === 'txqueuelen' ? `ethtool:${iface}/txqueuelen` : `ethtool:${iface}/${group}/${group === 'xps' ? `tx-${key}` : key}`;

function plan(args: EthtoolArgs, o: EthtoolObserved, ctx: PlanContext) {
  const iface = o.device.name;
  if (iface === null) throw new TaskError(`${ctx.host}: no network interface ${describeDevice(args.device)}`);
  if (o.ethtoolMissing) throw new TaskError(`${ctx.host}: ethtool is not installed (Debian/RHEL package ethtool)`);
  const { settings, problems } = resolve(args, o, ctx.facts);
  if (problems.length) throw new TaskError(`${ctx.host}: ${problems.join('; ')}`);
  const changes: Change[] = [];
  const warnings: string[] = [];
  // Changing the channel count makes the driver rewrite every xps map (virtio_net does): each map
  // asked for is then set again, a change even where it holds that value now.
  const channelsChange = Object.entries(settings.channels).some(([key, value]) => liveText(o.live, 'channels', key) !== String(value));
  for (const [group, pick] of GROUPS) {
    for (const [key, value] of Object.entries(pick(settings))) {
      const before = liveText(o.live, group, key);
      const after = String(value);
      const again = before === after && group === 'xps' && channelsChange;
      if (before === after && !again) continue;
      const label = group === 'txqueuelen' ? 'txqueuelen' : group === 'xps' ? `xps tx-${key}` : `${group} ${key}`;
      changes.push({
        summary: `set ${label} of ${iface}${again ? ' again after the channel change' : ''}`,
        target: targetOf(iface, group, key),
        effect: 'live',
        before,
        after,
        data: { kind: 'live', device: iface, group, key, value: after } satisfies ChangeData,
      });
    }
  }
  const mechanism = persistMechanism(args, ctx.facts);
  if (mechanism === null) {
    throw new TaskError(
      `${ctx.host}: persist: auto found no way to persist ethtool settings here (no systemd-udevd, udev, ifupdown or NetworkManager in the facts); choose persist: udev, link-file or ifupdown, or persist: no for live settings only`,
    );
  }
  const match: DeviceMatch = {
    by: typeof args.device === 'string' ? 'name' : 'mac' in args.device ? 'mac' : 'pci',
    name: iface,
    mac: o.device.mac,
    pci: o.device.pci,
  };
  const files = new Map<string, string | null>();
  // what other tasks persisted for this device stays in its files (as planned so far in this run)
  const prior = (path: string, parse: (t: string | null) => EthtoolSettings) => parse(o.persisted.files[path] ?? null);
  const rule = udevRulePath(args.device);
  if (mechanism === 'udev')
    files.set(rule, renderUdevRule(match, mergeSettings(prior(rule, settingsFromCommands), settings), cpuListToMask));
  if (mechanism === 'link-file') {
    const earlier = mergeSettings(prior(linkFilePath(args.device), settingsFromLinkFile), prior(rule, settingsFromCommands));
    const { link, rest } = splitForLinkFile(mergeSettings(earlier, settings));
    files.set(linkFilePath(args.device), renderLinkFile(match, link));
    files.set(udevRulePath(args.device), renderUdevRule(match, rest, cpuListToMask));
  }
  if (mechanism === 'ifupdown') {
    const main = o.persisted.files[INTERFACES] ?? null;
    const earlier = settingsFromCommands(
      hasStanza(main, iface) ? ifupdownBlock(main!) : (o.persisted.files[ifupdownPath(args.device)] ?? null),
    );
    const lines = ifupdownLines(iface, mergeSettings(earlier, settings), cpuListToMask);
    if (hasStanza(main, iface)) {
      files.set(INTERFACES, withStanzaBlock(main!, iface, lines));
      files.set(ifupdownPath(args.device), null);
    } else {
      files.set(ifupdownPath(args.device), renderIfupdownFile(iface, lines));
      if (main !== null && !/^\s*source(-directory)?\s+\/etc\/network\/interfaces\.d/m.test(main))
        warnings.push(`${INTERFACES} does not source /etc/network/interfaces.d: ${ifupdownPath(args.device)} would not be read by ifup`);
    }
  }
  if (mechanism === 'networkmanager') {
    const { props, rest } = splitForNetworkManager(settings);
    const nm = o.persisted.nm;
    if (!nm?.connection)
      throw new TaskError(`${ctx.host}: NetworkManager has no connection for ${iface} to hold its ethtool settings; choose persist: udev`);
    const differs = Object.entries(props).filter(([k, v]) => nm.props[k] !== v);
    if (differs.length) {
      const text = (p: Record<string, string | undefined>) => differs.map(([k]) => `${k}=${p[k] ?? ''}`).join(' ');
      changes.push({
        summary: `persist ${differs.length} ethtool properties in NetworkManager connection ${nm.connection}`,
        target: `nmcli:${nm.connection}`,
        effect: 'persistent',
        before: text(nm.props),
        after: text(props),
        data: { kind: 'nm', connection: nm.connection, props: Object.fromEntries(differs) } satisfies ChangeData,
      });
    }
    files.set(rule, renderUdevRule(match, mergeSettings(prior(rule, settingsFromCommands), rest), cpuListToMask));
  }
  for (const [path, content] of files) {
    const before = o.persisted.files[path] ?? null;
    if (before === content) continue;
    changes.push({
      summary: content === null ? `remove ${path} (nothing left to persist there)` : `persist ethtool settings of ${iface} in ${path}`,
      target: path,
      effect: 'persistent',
      diff: { path, before, after: content },
      data: { kind: 'file', path, content } satisfies ChangeData,
    });
  }
  return { changes, warnings };
}

async function apply(changes: Change[], host: HostHandle): Promise<void> {
  const data = changes.map((c) => c.data as ChangeData);
  const live = new Map<string, Extract<ChangeData, { kind: 'live' }>[]>();
  for (const d of data) if (d.kind === 'live') live.set(d.device, [...(live.get(d.device) ?? []), d]);
  for (const [iface, items] of live) await setLive(host, iface, items);
  for (const d of data) {
    if (d.kind === 'file') await (d.content === null ? host.removeFile(d.path) : host.writeFile(d.path, d.content, { mode: 0o644 }));
    if (d.kind === 'nm') await host.run(['nmcli', 'connection', 'modify', d.connection, ...Object.entries(d.props).flat()]);
  }
}

/** Set the planned live values of one interface, in the order that works, and read them all back. */
async function setLive(host: HostHandle, iface: string, items: Extract<ChangeData, { kind: 'live' }>[]): Promise<void> {
  const s = emptySettings();
  for (const { group, key, value } of items) {
    if (group === 'txqueuelen') s.txqueuelen = Number(value);
    else if (group === 'rx-flow-hash') s.rxFlowHash[key] = value;
    else if (group === 'features') s.features[key] = value as 'on' | 'off';
    else if (group === 'coalesce') s.coalesce[key] = /^\d+$/.test(value) ? Number(value) : (value as 'on' | 'off');
    else s[group][key] = group === 'xps' ? value : (Number(value) as never);
  }
  const failures: string[] = [];
  for (const step of settingSteps(iface, s, cpuListToMask)) {
    const r =
      step.kind === 'cmd'
        ? await host.exec(step.argv)
        : await host.sh(sh`printf '%s\n' ${step.mask} > ${`${NET}/${iface}/queues/tx-${step.queue}/xps_cpus`}`);
    // ethtool exits 0 on some failures (-N on veth), so the read-back below decides.
    if (r.code !== 0 || /cannot|could not|not supported/i.test(r.stderr))
      failures.push(`${step.kind === 'cmd' ? joinArgv(step.argv) : `xps tx-${step.queue}`}: ${errorLine(r.stderr || r.stdout)}`);
  }
  // Read back with the probes these settings need, on the interface plan found.
  const some = <T extends object>(r: T) => (Object.keys(r).length ? r : undefined);
  const probes: EthtoolArgs = {
    device: iface,
    ring: some(s.ring),
    channels: some(s.channels),
    features: some(s.features),
    coalesce: some(s.coalesce),
    rx_flow_hash: some(s.rxFlowHash),
  };
  const [result] = await host.read([{ kind: 'script', script: liveScript(probes) }]);
  const now = parseLive(probes, result.kind === 'script' ? result.stdout : '').live;
  for (const { group, key, value } of items) {
    const actual = liveText(now, group, key);
    if (actual !== value)
      throw new ApplyVerifyError(host.name, targetOf(iface, group, key), value, actual, failures.join('; ') || undefined);
  }
}

export const ethtool = {
  name: 'ethtool',
  // read() picks the persistence files from facts.ethtoolPersistence; plan() checks facts.cpu
  readNeedsFacts: true,
  needsFacts: true,
  description: 'NIC rings, channels, offloads, coalescing, rx-flow-hash, txqueuelen and xps, live and persisted across reboots.',
  schema,
  read,
  parse,
  plan,
  apply,
} satisfies Module<EthtoolArgs, EthtoolObserved>;

export default ethtool;
