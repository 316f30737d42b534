// `hvtune facts` as a person reads it: a few lines per host (the JSON has everything).

import type { Facts } from '../facts.js';
import { formatCpuList } from '../facts/cpulist.js';

const gib = (kib: number | null | undefined) => (kib == null ? '?' : `${(kib / 1048576).toFixed(1)} GiB`);
const sizeName = (kib: number) => (kib >= 1048576 ? `${kib / 1048576}G` : kib >= 1024 ? `${kib / 1024}M` : `${kib}K`);

/** The human summary of one host's facts (the JSON has everything). */
export function formatFacts(name: string, f: Facts): string {
  const lines = [
    `${name}: ${f.hostname} · ${f.distribution?.name || f.distribution?.id || 'unknown distribution'} · kernel ${f.kernel.release}`,
  ];
  const row = (label: string, text: string) => lines.push(`  ${label.padEnd(9)}${text}`);
  if (f.cpu) {
    const c = f.cpu;
    const feats = Object.entries(c.features)
      .filter(([, on]) => on)
      .map(([k]) => k)
      .join(' ');
    row(
      'cpu',
      `${c.model || c.vendor || 'unknown'} · ${c.sockets} socket(s) × ${c.coresPerSocket} cores × ${c.threadsPerCore} thread(s), HT ${c.hyperThreading ? 'on' : 'off'} · online ${formatCpuList(c.online)}`,
    );
    if (feats) row('', feats);
  }
  for (const n of f.numa?.nodes ?? [])
    row(`node${n.id}`, `cpus ${formatCpuList(n.cpus)} · memory ${gib(n.memTotalKiB)} (free ${gib(n.memFreeKiB)})`);
  for (const n of f.nics ?? []) {
    if (n.name === 'lo') continue;
    const parts = [
      n.driver ?? 'virtual',
      n.pci,
      n.mac,
      n.numaNode !== null ? `node ${n.numaNode}` : null,
      n.speedMbps ? `${n.speedMbps}Mb/s` : null,
      `mtu ${n.mtu}`,
      n.operstate,
      `queues rx ${n.rxQueues} tx ${n.txQueues}`,
    ];
    if (n.channels?.maxCombined != null) parts.push(`channels ${n.channels.combined}/${n.channels.maxCombined}`);
    if (n.ring?.rxMax != null) parts.push(`ring ${n.ring.rx}/${n.ring.rxMax}`);
    if (n.irq?.length) parts.push(`${n.irq.length} queue IRQs`);
    row(`nic`, `${n.name}: ${parts.filter(Boolean).join(' · ')}`);
  }
  if (f.memory) {
    const m = f.memory;
    const pools = m.hugepages.pools.map((p) => `${sizeName(p.sizeKiB)} ${p.total}${p.free !== null ? ` (free ${p.free})` : ''}`).join(', ');
    row(
      'memory',
      `${gib(m.totalKiB)} · hugepages ${pools || 'none'} · THP ${m.thp ? `${m.thp.enabled}/${m.thp.defrag}` : 'absent'} · KSM ${m.ksmRun === null ? 'absent' : m.ksmRun === 1 ? 'on' : 'off'}`,
    );
  }
  if (f.boot)
    row('boot', `${f.boot.tool}${f.boot.grubConfig ? ` → ${f.boot.grubConfig}` : ''} · ${f.boot.firmware}${f.boot.bls ? ' · BLS' : ''}`);
  if (f.cmdline !== undefined) row('cmdline', f.cmdline || '(empty)');
  if (f.init)
    row('init', `${f.init.system} (pid 1: ${f.init.pid1 || '?'}) · ethtool persistence: ${f.ethtoolPersistence?.join(', ') || 'none'}`);
  if (f.virt) row('role', `${f.virt.roles.join(', ')}${f.virt.hypervisor ? ` (hypervisor: ${f.virt.hypervisor})` : ''}`);
  if (f.domains) {
    if (!f.domains.length) row('domains', 'none');
    for (const d of f.domains) row('domain', `${d.name}: ${d.state} · ${d.vcpus ?? '?'} vCPU · ${gib(d.memoryKiB)}`);
  } else if (f.virt?.kvm.virsh) row('domains', 'libvirt did not answer');
  return lines.join('\n');
}
