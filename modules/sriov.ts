// sriov: the virtual functions of an SR-IOV NIC. Sets how many VFs a PF has through
// /sys/class/net/DEV/device/sriov_numvfs and each VF's MAC, VLAN, trust, spoof checking and link
// state through `ip link set DEV vf N`, reads both back, and persists them in a udev rule that
// recreates the VFs when the PF appears at boot. The kernel changes a VF count only from 0, which
// destroys the VFs there are: hvtune goes through 0 only when no running domain holds one.

import type { Change, HostHandle, Module, PlanContext, PlanResult, ReadRequest, ReadResult } from '../src/module.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { sh } from '../src/quote.js';
import {
  assignedPciAddresses,
  describeVf,
  desiredVf,
  parseVfLines,
  renderSriovRule,
  sriovRulePath,
  vfAddress,
  vfArgs,
  type VfObserved,
  type VfSettings,
} from './lib/sriov.js';

export interface SriovArgs {
  device: string;
  numvfs: number;
  vfs?: Record<string, VfSettings>;
  persist?: 'udev' | 'no';
  uri?: string;
}

export interface SriovObserved {
  exists: boolean;
  /** The PF's PCI address (PCI_SLOT_NAME of device/uevent), null when not a PCI device. */
  pci: string | null;
  driver: string | null;
  totalvfs: number | null;
  numvfs: number | null;
  offset: number | null;
  stride: number | null;
  /** VF number → PCI address, from the device/virtfnN links. */
  virtfn: Record<number, string>;
  /** VF number → settings, from `ip -d link show`. */
  vfs: Record<number, VfObserved>;
  /** `ip link show` failed: its message. */
  linkError: string | null;
  /** Running domain → PCI addresses it passes through; null = virsh could not tell. */
  domains: Record<string, string[]> | null;
  domainsError: string | null;
  rule: string | null;
}

type ChangeData =
  | { op: 'numvfs'; device: string; value: number }
  | { op: 'vf'; device: string; vf: number; args: string[]; want: VfSettings }
  | { op: 'file'; path: string; content: string | null };

const MARK = '::hvtune::';
const DEVICE_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}$';
const DEFAULT_URI = 'qemu:///system';

export const sriovSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['device', 'numvfs'],
  properties: {
    device: {
      type: 'string',
      pattern: DEVICE_PATTERN,
      description: 'The physical function (PF): a network interface name such as ens1f0.',
      'x-message': 'must be an interface name such as ens1f0 (letters, digits, _ . : -, at most 15)',
    },
    numvfs: {
      type: 'integer',
      minimum: 0,
      maximum: 4096,
      description:
        'VFs the PF offers (sriov_numvfs), at most its sriov_totalvfs. The kernel changes it only from 0: going from N to M removes every VF first, ' +
        'which hvtune does only when no running domain holds one of them.',
    },
    vfs: {
      type: 'object',
      description:
        'VF number (below numvfs) → {mac, vlan, qos, spoofchk, trust, state} (ip link set DEV vf N …); each set live and put back at boot by the udev rule.',
      propertyNames: { pattern: '^[0-9]{1,4}$', 'x-message': 'must be a VF number' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          mac: {
            type: 'string',
            pattern: '^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$',
            description: 'MAC address the VF has (the guest cannot change it unless trust is on).',
          },
          vlan: { type: 'integer', minimum: 0, maximum: 4095, description: 'Port VLAN the PF tags and strips for the VF; 0 = none.' },
          qos: { type: 'integer', minimum: 0, maximum: 7, description: 'VLAN priority (802.1p) of the port VLAN.' },
          spoofchk: { type: 'boolean', description: 'Drop frames the VF sends with another source MAC.' },
          trust: { type: 'boolean', description: 'Let the guest change its MAC and use promiscuous/multicast modes.' },
          state: { enum: ['auto', 'enable', 'disable'], description: "VF link state: auto follows the PF's link." },
        },
      },
    },
    persist: {
      enum: ['udev', 'no'],
      default: 'udev',
      description: `udev: a rule (${sriovRulePath('DEV')}) that sets sriov_numvfs and the VF settings when the PF appears at boot. no: live only.`,
    },
    uri: {
      type: 'string',
      pattern: '^[a-z0-9+]+://[A-Za-z0-9_.@:-]*/[a-z]+$',
      default: DEFAULT_URI,
      description: 'libvirt URI asked which running domains hold VFs (virsh -c).',
    },
  },
} as const;

function validate(args: SriovArgs): { path: string; message: string }[] {
  return Object.keys(args.vfs ?? {})
    .filter((vf) => Number(vf) >= args.numvfs)
    .map((vf) => ({
      path: `/vfs/${vf}`,
      message: `VF ${vf} does not exist with numvfs ${args.numvfs} (VFs 0-${args.numvfs - 1})`,
    }));
}

function read(args: SriovArgs): ReadRequest[] {
  const uri = args.uri ?? DEFAULT_URI;
  const script = sh`LC_ALL=C; export LC_ALL; dev=${args.device}; uri=${uri}; d=/sys/class/net/$dev/device
echo '::hvtune:: exists'; if [ -e "/sys/class/net/$dev" ]; then echo yes; else echo no; fi
echo '::hvtune:: pci'; sed -n 's/^PCI_SLOT_NAME=//p' "$d/uevent" 2>/dev/null
echo '::hvtune:: driver'; l=$(readlink "$d/driver" 2>/dev/null) && printf '%s\\n' "\${l##*/}"
for f in sriov_totalvfs sriov_numvfs sriov_offset sriov_stride; do echo "::hvtune:: $f"; cat "$d/$f" 2>/dev/null; done
echo '::hvtune:: virtfn'
for l in "$d"/virtfn*; do [ -L "$l" ] || continue; t=$(readlink "$l"); printf '%s %s\\n' "\${l##*/virtfn}" "\${t##*/}"; done
echo '::hvtune:: link'; ip -d link show dev "$dev" 2>&1 || echo '::hvtune:: link-error'
if command -v virsh >/dev/null 2>&1; then
  if running=$(virsh -q -c "$uri" list --name 2>&1); then
    printf '%s\\n' "$running" | while IFS= read -r dom; do
      [ -n "$dom" ] || continue
      echo '::hvtune:: domain'; printf '%s\\n' "$dom"; virsh -q -c "$uri" dumpxml --domain "$dom" 2>/dev/null
    done
  else echo '::hvtune:: virsh-error'; printf '%s\\n' "$running"; fi
fi`;
  const reads: ReadRequest[] = [{ kind: 'script', script }];
  if (args.persist !== 'no') reads.push({ kind: 'file', path: sriovRulePath(args.device) });
  return reads;
}

/** The read script's output, in sections led by `::hvtune:: NAME` lines. */
export function parseSriovOutput(stdout: string): Omit<SriovObserved, 'rule'> {
  const sections: { name: string; lines: string[] }[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith(`${MARK} `)) sections.push({ name: line.slice(MARK.length + 1).trim(), lines: [] });
    else sections[sections.length - 1]?.lines.push(line);
  }
  const get = (name: string) => sections.find((s) => s.name === name);
  const body = (name: string) => get(name)?.lines.join('\n').trim() ?? '';
  const num = (name: string) => (/^\d+$/.test(body(name)) ? Number(body(name)) : null);
  const virtfn: Record<number, string> = {};
  for (const line of get('virtfn')?.lines ?? []) {
    const m = /^(\d+) (\S+)$/.exec(line.trim());
    if (m) virtfn[Number(m[1])] = m[2].toLowerCase();
  }
  const linkFailed = sections.some((s) => s.name === 'link-error');
  const domains: Record<string, string[]> = {};
  for (const s of sections.filter((x) => x.name === 'domain')) {
    const [name, ...xml] = s.lines;
    if (name) domains[name] = assignedPciAddresses(xml.join('\n'));
  }
  const virshError = get('virsh-error');
  return {
    exists: body('exists') === 'yes',
    pci: body('pci').toLowerCase() || null,
    driver: body('driver') || null,
    totalvfs: num('sriov_totalvfs'),
    numvfs: num('sriov_numvfs'),
    offset: num('sriov_offset'),
    stride: num('sriov_stride'),
    virtfn,
    vfs: linkFailed ? {} : parseVfLines(body('link')),
    linkError: linkFailed ? body('link') || 'ip link show failed' : null,
    domains: virshError ? null : domains,
    domainsError: virshError ? virshError.lines.join('\n').trim() || 'virsh failed' : null,
  };
}

function parse(_args: SriovArgs, results: ReadResult[]): SriovObserved {
  const r = results[0];
  const rule = results[1];
  return {
    ...parseSriovOutput(r && 'stdout' in r ? r.stdout : ''),
    rule: rule?.kind === 'file' ? rule.content : null,
  };
}

/** VF number → PCI address of the VFs there are now. */
function currentVfAddresses(o: SriovObserved): Record<number, string> {
  const out: Record<number, string> = { ...o.virtfn };
  if (o.pci && o.offset !== null && o.stride !== null) {
    for (let vf = 0; vf < (o.numvfs ?? 0); vf++) out[vf] ??= vfAddress(o.pci, o.offset, o.stride, vf);
  }
  return out;
}

function refuseIfInUse(args: SriovArgs, o: SriovObserved, host: string): void {
  if (o.domains === null)
    throw new TaskError(
      `${host}: cannot tell whether a running domain holds a VF of ${args.device} (virsh: ${o.domainsError?.split('\n')[0]}); changing numvfs from ${o.numvfs} removes every VF, so nothing was changed`,
    );
  const addresses = currentVfAddresses(o);
  const byAddress = new Map(Object.entries(addresses).map(([vf, pci]) => [pci, Number(vf)]));
  const holders: string[] = [];
  for (const [dom, pcis] of Object.entries(o.domains)) {
    const vfs = pcis.filter((p) => byAddress.has(p)).map((p) => `VF ${byAddress.get(p)} (${p})`);
    if (vfs.length > 0) holders.push(`${dom}: ${vfs.join(', ')}`);
  }
  if (holders.length > 0)
    throw new TaskError(
      `${host}: numvfs of ${args.device} is ${o.numvfs}; the kernel changes it only through 0, which removes every VF, and running domains hold some (${holders.join('; ')}): shut them down or move them first`,
    );
}

function plan(args: SriovArgs, o: SriovObserved, ctx: PlanContext): PlanResult {
  const dev = args.device;
  if (!o.exists) throw new TaskError(`${ctx.host}: no network interface ${dev}`);
  if (o.totalvfs === null)
    throw new TaskError(
      `${ctx.host}: ${dev}${o.driver ? ` (driver ${o.driver})` : ''} does not offer SR-IOV: no /sys/class/net/${dev}/device/sriov_totalvfs`,
    );
  if (args.numvfs > o.totalvfs)
    throw new TaskError(`${ctx.host}: ${dev} offers at most ${o.totalvfs} VFs (sriov_totalvfs), not ${args.numvfs}`);
  const changes: Change[] = [];
  const warnings: string[] = [];
  const now = o.numvfs ?? 0;
  const recreate = now !== args.numvfs;
  if (recreate) {
    const steps = now > 0 && args.numvfs > 0 ? [0, args.numvfs] : [args.numvfs];
    if (now > 0) refuseIfInUse(args, o, ctx.host);
    let before = now;
    for (const value of steps) {
      changes.push({
        summary:
          value === 0 && steps.length > 1
            ? `remove the ${now} VFs of ${dev} (the kernel changes the count only from 0)`
            : `set ${value} VFs on ${dev}`,
        target: `sriov:${dev}/numvfs`,
        effect: 'live',
        before: String(before),
        after: String(value),
        data: { op: 'numvfs', device: dev, value } satisfies ChangeData,
      });
      before = value;
    }
  }
  for (const [key, want] of Object.entries(args.vfs ?? {}).sort(([a], [b]) => Number(a) - Number(b))) {
    const vf = Number(key);
    const have = recreate ? null : (o.vfs[vf] ?? null);
    if (!recreate && !have) {
      throw new TaskError(
        `${ctx.host}: ${dev}${o.driver ? ` (driver ${o.driver})` : ''} shows no VF ${vf} in \`ip -d link show\`${o.linkError ? ` (${o.linkError.split('\n')[0]})` : ''}: its driver does not report VF settings`,
      );
    }
    const after = desiredVf(want);
    const before = have ? describeVf(want, have) : null;
    if (before === after) continue;
    changes.push({
      summary: `set VF ${vf} of ${dev}: ${after}`,
      target: `sriov:${dev}/vf/${vf}`,
      effect: 'live',
      before,
      after,
      data: { op: 'vf', device: dev, vf, args: vfArgs(want), want } satisfies ChangeData,
    });
  }
  if (args.persist !== 'no') {
    const path = sriovRulePath(dev);
    const content = renderSriovRule(dev, args.numvfs, args.vfs ?? {});
    if (content !== o.rule) {
      changes.push({
        summary: content === null ? `remove ${path} (no VFs to recreate at boot)` : `persist the VFs of ${dev} in ${path}`,
        target: path,
        effect: 'persistent',
        diff: { path, before: o.rule, after: content },
        data: { op: 'file', path, content } satisfies ChangeData,
      });
    }
  }
  return { changes, warnings };
}

// ---- apply ----------------------------------------------------------------------------------

async function readBack(host: HostHandle, args: SriovArgs): Promise<SriovObserved> {
  return parse(args, await host.read(read({ ...args, persist: 'no' })));
}

async function apply(changes: Change[], host: HostHandle, args: SriovArgs): Promise<void> {
  for (const c of changes) {
    const d = c.data as ChangeData;
    if (d.op === 'numvfs') {
      const path = `/sys/class/net/${d.device}/device/sriov_numvfs`;
      const r = await host.sh(sh`printf '%s\\n' ${String(d.value)} > ${path}`);
      const seen = (await readBack(host, args)).numvfs;
      if (seen !== d.value)
        throw new ApplyVerifyError(
          host.name,
          c.target,
          String(d.value),
          seen === null ? null : String(seen),
          r.code === 0 ? 'the driver did not take it' : (r.stderr.trim().split('\n')[0] ?? ''),
        );
    } else if (d.op === 'vf') {
      const r = await host.exec(['ip', 'link', 'set', 'dev', d.device, 'vf', String(d.vf), ...d.args]);
      const seen = (await readBack(host, args)).vfs[d.vf] ?? null;
      const got = seen ? describeVf(d.want, seen) : null;
      if (got !== desiredVf(d.want))
        throw new ApplyVerifyError(host.name, c.target, desiredVf(d.want), got, r.code === 0 ? undefined : r.stderr.trim().split('\n')[0]);
    } else if (d.content === null) {
      await host.removeFile(d.path);
    } else {
      await host.writeFile(d.path, d.content, { mode: 0o644 });
    }
  }
}

export const sriov = {
  name: 'sriov',
  description:
    'SR-IOV virtual functions of a NIC: how many (sriov_numvfs) and the MAC, VLAN, trust, spoof checking and link state of each; persisted by a udev rule.',
  schema: sriovSchema,
  validate,
  read,
  parse,
  plan,
  apply,
} satisfies Module<SriovArgs, SriovObserved>;

export default sriov;
