// Virtualisation role (KVM host, Xen dom0, guest) and libvirt domains. The guest test follows
// systemd-detect-virt: its own answer when present, else DMI vendor/product, /sys/hypervisor
// and the CPU's `hypervisor` flag.

import type { DomainFacts, VirtFacts, VirtRole } from './types.js';
import { type RawFacts, fileText, sectionLines, toInt } from './sections.js';

/** DMI sys_vendor / product_name → hypervisor id (systemd-detect-virt's words). */
const DMI_VENDORS: [RegExp, string][] = [
  [/^KVM$/i, 'kvm'],
  [/^QEMU/i, 'qemu'],
  [/^VMware/i, 'vmware'],
  [/^Microsoft Corporation$/i, 'microsoft'],
  [/^innotek GmbH$|VirtualBox/i, 'oracle'],
  [/^Xen$|HVM domU/i, 'xen'],
  [/^Amazon EC2$/i, 'amazon'],
  [/^Google$|Google Compute Engine/i, 'google'],
  [/^Bochs$/i, 'bochs'],
  [/^Parallels/i, 'parallels'],
  [/^Alibaba Cloud ECS$/i, 'alibaba'],
];

/** Microsoft also makes real hardware: only "Virtual Machine" products are guests. */
export function hypervisorFromDmi(vendor: string | undefined, product: string | undefined): string | null {
  for (const text of [product, vendor]) {
    if (!text) continue;
    for (const [re, id] of DMI_VENDORS) {
      if (!re.test(text.trim())) continue;
      if (id === 'microsoft' && !/Virtual Machine/i.test(product ?? '')) continue;
      return id;
    }
  }
  return null;
}

export function parseVirt(raw: RawFacts, commands: Set<string>, exists: Set<string>, cpuHypervisorFlag: boolean): VirtFacts {
  const caps = (raw.files.get('/proc/xen/capabilities') ?? []).join(' ');
  const dom0 = /\bcontrol_d\b/.test(caps);
  const xe = commands.has('xe');
  const libvirtd = ['/run/libvirt/libvirt-sock', '/run/libvirt/virtqemud-sock', '/var/run/libvirt/libvirt-sock'].some((p) => exists.has(p));
  const kvm = { device: exists.has('/dev/kvm'), virsh: commands.has('virsh'), libvirtd };
  const detected = (sectionLines(raw, 'detect-virt') ?? []).map((l) => l.trim()).find((l) => /^[a-z][a-z0-9-]*$/.test(l));
  const dmi = hypervisorFromDmi(fileText(raw, '/sys/class/dmi/id/sys_vendor'), fileText(raw, '/sys/class/dmi/id/product_name'));
  const xenType = fileText(raw, '/sys/hypervisor/type') === 'xen' ? 'xen' : null;
  let hypervisor: string | null = null;
  if (!dom0) {
    if (detected && detected !== 'none') hypervisor = detected;
    else if (detected === undefined) hypervisor = dmi ?? xenType ?? (cpuHypervisorFlag ? 'unknown' : null);
  }
  const roles: VirtRole[] = [];
  if (dom0 || xe) roles.push('xen-dom0');
  if (kvm.device && (kvm.virsh || libvirtd)) roles.push('kvm-host');
  if (hypervisor) roles.push('guest');
  return { role: roles[0] ?? 'bare-metal', roles: roles.length ? roles : ['bare-metal'], hypervisor, kvm, xen: { dom0, xe } };
}

/** virDomainState numbers as virsh prints them. */
const DOMAIN_STATES = ['no state', 'running', 'idle', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended'];

/**
 * `virsh domstats --state --vcpu --balloon` → domains. The section ends with "exit=N": anything
 * but 0 (timeout 124, connection refused) means libvirt did not answer → null, not [].
 */
export function parseDomstats(lines: readonly string[] | undefined): DomainFacts[] | null {
  if (!lines) return null;
  const exit = lines.map((l) => /^exit=(\d+)$/.exec(l.trim())).find(Boolean);
  if (exit?.[1] !== '0') return null;
  const domains: DomainFacts[] = [];
  let d: DomainFacts | null = null;
  for (const line of lines) {
    const head = /^Domain:\s*'(.*)'\s*$/.exec(line.trim());
    if (head) {
      d = { name: head[1], state: 'no state', vcpus: null, maxVcpus: null, memoryKiB: null, maxMemoryKiB: null };
      domains.push(d);
      continue;
    }
    const kv = /^\s+([a-z][a-z0-9_.]*)=(.*)$/.exec(line);
    if (!d || !kv) continue;
    const n = toInt(kv[2]);
    if (kv[1] === 'state.state' && n !== null) d.state = DOMAIN_STATES[n] ?? `state ${n}`;
    else if (kv[1] === 'vcpu.current') d.vcpus = n;
    else if (kv[1] === 'vcpu.maximum') d.maxVcpus = n;
    else if (kv[1] === 'balloon.current') d.memoryKiB = n;
    else if (kv[1] === 'balloon.maximum') d.maxMemoryKiB = n;
  }
  return domains;
}
