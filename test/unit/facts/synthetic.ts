// Gatherer output for machines the lab cannot be: a CPU/NUMA/NIC layout rendered exactly as
// FACTS_SCRIPT prints it on such a machine (sysfs file per CPU, node cpulist/distance, class
// symlinks). The JSON fixtures in test/fixtures/facts are parseFacts() of these texts; a test
// keeps them in step.

import { formatCpuList } from '../../../src/facts/cpulist.js';

export interface SyntheticNic {
  name: string;
  driver: string;
  pci: string;
  node: number;
  speed: number;
  queues: number;
  ringMax: number;
  /** First IRQ number of its MSI vectors (misc vector, then one per queue); without it, no IRQs are rendered. */
  irqBase?: number;
}

/** What /proc/interrupts calls a queue vector and the misc vector, driver by driver. */
function irqNames(n: SyntheticNic): { misc: string; queue: (q: number) => string } {
  if (n.driver === 'i40e') return { misc: `i40e-${n.pci}:misc`, queue: (q) => `i40e-${n.name}-TxRx-${q}` };
  if (n.driver === 'mlx5_core') return { misc: `mlx5_async0@pci:${n.pci}`, queue: (q) => `mlx5_comp${q}@pci:${n.pci}` };
  return { misc: n.name, queue: (q) => `${n.name}-TxRx-${q}` };
}

/** Sections msi-irqs, interrupts and irq-affinity: queue q served by CPU q (the drivers' affinity hint). */
function renderIrqs(l: SyntheticLayout, total: number): string[] {
  const msi: string[] = [];
  const lines: string[] = [];
  const affinity: string[] = [];
  const row = (irq: number, counts: number[], name: string) =>
    lines.push(`${String(irq).padStart(4)}: ${counts.map((c) => String(c).padStart(10)).join(' ')}  IR-PCI-MSI ${irq}-edge      ${name}`);
  for (const n of l.nics) {
    if (n.irqBase === undefined) continue;
    const names = irqNames(n);
    msi.push(`${n.name} ${n.irqBase}`);
    row(
      n.irqBase,
      Array.from({ length: total }, (_, c) => (c === 0 ? 7 : 0)),
      names.misc,
    );
    affinity.push(`/proc/irq/${n.irqBase}/smp_affinity_list:0-${total - 1}`);
    for (let q = 0; q < n.queues; q++) {
      const irq = n.irqBase + 1 + q;
      const cpu = q % total;
      msi.push(`${n.name} ${irq}`);
      row(
        irq,
        Array.from({ length: total }, (_, c) => (c === cpu ? 100_000 + 1_000 * q : 0)),
        names.queue(q),
      );
      affinity.push(`/proc/irq/${irq}/smp_affinity_list:${cpu}`);
    }
  }
  const header = ' '.repeat(5) + Array.from({ length: total }, (_, c) => `CPU${c}`.padStart(10)).join(' ');
  return [
    '@@hvtune:msi-irqs',
    ...msi,
    '@@hvtune:interrupts',
    ...(lines.length ? [header, ...lines] : []),
    '@@hvtune:irq-affinity',
    ...affinity,
  ];
}

export interface SyntheticLayout {
  hostname: string;
  release: string;
  vendor: string;
  model: string;
  flags: string;
  sockets: number;
  coresPerSocket: number;
  threadsPerCore: number;
  /** core_id of each core within a socket (Intel leaves gaps: 0-4,8-12 on a 10-core Xeon). */
  coreIds?: number[];
  nodesPerSocket: number;
  distances: number[][];
  memPerNodeKiB: number;
  nics: SyntheticNic[];
  osRelease: string[];
  cmdline: string;
  /** Boot tooling: Debian's update-grub, or RHEL's grubby with BLS entries. */
  family: 'debian' | 'rhel';
}

/**
 * Linux numbers CPUs socket-major, first threads first: cpu = thread × (all cores) +
 * socket × coresPerSocket + core. So on 2 × 10 cores with HT, cpu 0 and 20 are siblings.
 */
export function cpuNumber(l: SyntheticLayout, socket: number, core: number, thread: number): number {
  return thread * l.sockets * l.coresPerSocket + socket * l.coresPerSocket + core;
}

export function renderGathererOutput(l: SyntheticLayout): string {
  const files: string[] = [];
  const f = (path: string, value: string | number) => files.push(`${path}:${value}`);
  const sys = '/sys/devices/system';
  const total = l.sockets * l.coresPerSocket * l.threadsPerCore;
  for (const line of l.osRelease) f('/etc/os-release', line);
  if (l.family === 'rhel') f('/etc/default/grub', 'GRUB_ENABLE_BLSCFG=true');
  const mem = l.memPerNodeKiB * l.sockets * l.nodesPerSocket;
  for (const line of [`MemTotal:       ${mem} kB`, `MemFree:        ${mem - 4_000_000} kB`, 'Hugepagesize:       2048 kB'])
    f('/proc/meminfo', line);
  f('/proc/sys/kernel/hostname', l.hostname);
  f('/proc/sys/kernel/osrelease', l.release);
  f('/proc/sys/kernel/version', '#1 SMP PREEMPT_DYNAMIC');
  f('/proc/cmdline', l.cmdline);
  f('/proc/1/comm', 'systemd');
  f('/sys/class/dmi/id/sys_vendor', 'Dell Inc.');
  f('/sys/class/dmi/id/product_name', 'PowerEdge R740');
  f(`${sys}/cpu/online`, `0-${total - 1}`);
  f(`${sys}/cpu/smt/active`, l.threadsPerCore > 1 ? 1 : 0);
  const nodeCpus = new Map<number, number[]>();
  const coresPerNode = l.coresPerSocket / l.nodesPerSocket;
  for (let s = 0; s < l.sockets; s++)
    for (let c = 0; c < l.coresPerSocket; c++) {
      const siblings = Array.from({ length: l.threadsPerCore }, (_, t) => cpuNumber(l, s, c, t));
      const node = s * l.nodesPerSocket + Math.floor(c / coresPerNode);
      for (const cpu of siblings) {
        f(`${sys}/cpu/cpu${cpu}/topology/core_id`, l.coreIds?.[c] ?? c);
        f(`${sys}/cpu/cpu${cpu}/topology/physical_package_id`, s);
        f(`${sys}/cpu/cpu${cpu}/topology/thread_siblings_list`, formatCpuList(siblings));
        (nodeCpus.get(node) ?? nodeCpus.set(node, []).get(node)!).push(cpu);
      }
    }
  for (const [node, cpus] of nodeCpus) {
    f(`${sys}/node/node${node}/cpulist`, formatCpuList(cpus));
    f(`${sys}/node/node${node}/distance`, l.distances[node].join(' '));
    f(`${sys}/node/node${node}/meminfo`, `Node ${node} MemTotal:       ${l.memPerNodeKiB} kB`);
    f(`${sys}/node/node${node}/meminfo`, `Node ${node} MemFree:        ${l.memPerNodeKiB - 1_000_000} kB`);
    f(`${sys}/node/node${node}/hugepages/hugepages-2048kB/nr_hugepages`, 0);
    f(`${sys}/node/node${node}/hugepages/hugepages-1048576kB/nr_hugepages`, 0);
  }
  for (const size of [2048, 1048576])
    for (const k of ['nr', 'free', 'resv', 'surplus']) f(`/sys/kernel/mm/hugepages/hugepages-${size}kB/${k}_hugepages`, 0);
  f('/sys/kernel/mm/transparent_hugepage/enabled', '[always] madvise never');
  f('/sys/kernel/mm/transparent_hugepage/defrag', 'always defer defer+madvise [madvise] never');
  f('/sys/kernel/mm/ksm/run', 0);
  l.nics.forEach((n, i) => {
    f(`/sys/class/net/${n.name}/address`, `3c:fd:fe:00:00:0${i}`);
    f(`/sys/class/net/${n.name}/mtu`, 1500);
    f(`/sys/class/net/${n.name}/operstate`, 'up');
    f(`/sys/class/net/${n.name}/speed`, n.speed);
    f(`/sys/class/net/${n.name}/device/numa_node`, n.node);
  });
  f('/sys/class/net/lo/address', '00:00:00:00:00:00');
  f('/sys/class/net/lo/mtu', 65536);
  f('/sys/class/net/lo/operstate', 'unknown');

  const out = ['@@hvtune:files', ...files, '@@hvtune:cpuinfo'];
  out.push('processor\t: 0', `vendor_id\t: ${l.vendor}`, `model name\t: ${l.model}`, `flags\t\t: ${l.flags}`);
  out.push('@@hvtune:links', 'lrwxrwxrwx 1 root root 0 Jan  1 00:00 /sys/class/net/lo -> ../../devices/virtual/net/lo');
  for (const n of l.nics) {
    const bridge = n.pci.slice(0, 7);
    out.push(
      `lrwxrwxrwx 1 root root 0 Jan  1 00:00 /sys/class/net/${n.name} -> ../../devices/pci${bridge}/${bridge}:00.0/${n.pci}/net/${n.name}`,
    );
    out.push(`lrwxrwxrwx 1 root root 0 Jan  1 00:00 /sys/class/net/${n.name}/device -> ../../../${n.pci}`);
    out.push(`lrwxrwxrwx 1 root root 0 Jan  1 00:00 /sys/class/net/${n.name}/device/driver -> ../../../../bus/pci/drivers/${n.driver}`);
  }
  out.push('@@hvtune:queues');
  for (const n of l.nics)
    for (const dir of ['rx', 'tx']) for (let q = 0; q < n.queues; q++) out.push(`/sys/class/net/${n.name}/queues/${dir}-${q}`);
  out.push('/sys/class/net/lo/queues/rx-0', '/sys/class/net/lo/queues/tx-0');
  const rhel = l.family === 'rhel';
  out.push('@@hvtune:exists', '/dev/kvm', '/run/systemd/system', '/usr/lib/systemd/network', '/run/libvirt/libvirt-sock');
  out.push(
    ...(rhel ? ['/sys/firmware/efi', '/etc/NetworkManager', '/boot/grub2/grub.cfg', '/boot/loader/entries'] : ['/boot/grub/grub.cfg']),
  );
  out.push('@@hvtune:efi-grub', ...(rhel ? ['/boot/efi/EFI/rocky/grub.cfg:1'] : []));
  out.push('@@hvtune:commands');
  out.push(...(rhel ? ['/usr/sbin/grubby', '/usr/sbin/grub2-mkconfig', '/usr/bin/nmcli'] : ['/usr/sbin/update-grub']));
  out.push('/usr/sbin/ethtool', '/usr/bin/virsh', '/usr/bin/systemd-detect-virt', '/usr/bin/udevadm', '/usr/bin/timeout');
  out.push(...renderIrqs(l, total), '@@hvtune:detect-virt', 'none');
  for (const n of l.nics) {
    out.push(
      `@@hvtune:ethtool-g ${n.name}`,
      `Ring parameters for ${n.name}:`,
      'Pre-set maximums:',
      `RX:\t\t${n.ringMax}`,
      'RX Mini:\tn/a',
      'RX Jumbo:\tn/a',
      `TX:\t\t${n.ringMax}`,
    );
    out.push('Current hardware settings:', 'RX:\t\t512', 'RX Mini:\tn/a', 'RX Jumbo:\tn/a', 'TX:\t\t512');
    out.push(
      `@@hvtune:ethtool-l ${n.name}`,
      `Channel parameters for ${n.name}:`,
      'Pre-set maximums:',
      'RX:\t\tn/a',
      'TX:\t\tn/a',
      'Other:\t\t1',
      `Combined:\t${n.queues}`,
    );
    out.push('Current hardware settings:', 'RX:\t\tn/a', 'TX:\t\tn/a', 'Other:\t\t1', `Combined:\t${n.queues}`);
  }
  out.push('@@hvtune:domstats', 'exit=0', '@@hvtune:end');
  return out.join('\n') + '\n';
}
