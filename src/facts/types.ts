// The typed shape of gathered facts. Everything beyond hostname and kernel is optional: facts
// saved by an older hvtune, or hand-written for a test, may lack parts, and modules must cope.

export interface CpuThread {
  /** Logical CPU number, as in /sys/devices/system/cpu/cpuN. */
  id: number;
  /** core_id: unique within a package only, so a core is (socket, core). */
  core: number;
  socket: number;
  /** NUMA node holding this CPU; null when the kernel has no NUMA information. */
  node: number | null;
  /** thread_siblings_list: every hyper-thread of this CPU's core, itself included, sorted. */
  siblings: number[];
}

export interface CpuFacts {
  vendor: string;
  model: string;
  flags: string[];
  /** Named flags that tuning decisions depend on. */
  features: {
    vmx: boolean;
    svm: boolean;
    /** EPT (Intel) / NPT (AMD): hardware page-table virtualisation. */
    ept: boolean;
    npt: boolean;
    /** 1 GiB pages. */
    pdpe1gb: boolean;
    /** 2 MiB / 4 MiB pages. */
    pse: boolean;
    /** Running under a hypervisor. */
    hypervisor: boolean;
  };
  sockets: number;
  coresPerSocket: number;
  threadsPerCore: number;
  hyperThreading: boolean;
  online: number[];
  /** Online CPUs with their place in the topology, sorted by id. */
  threads: CpuThread[];
}

export interface NumaNode {
  id: number;
  cpus: number[];
  memTotalKiB: number | null;
  memFreeKiB: number | null;
  /** SLIT distances to nodes 0..n-1 (10 = local); empty when unknown. */
  distances: number[];
  /** Hugepage pools of this node, by page size in KiB. */
  hugepages: Record<string, { total: number; free: number | null }>;
}

export interface NumaFacts {
  nodes: NumaNode[];
}

export interface NicQueueInterrupts {
  /** Interrupt count per queue index (virtio0-input.K → input[K]). */
  input: number[];
  output: number[];
  /** CPUs that served each input queue (non-zero counts). */
  inputCpus: number[][];
}

/** One queue's interrupt of a NIC, found by the NIC's MSI vectors and the queue's name. */
export interface NicQueueIrq {
  irq: number;
  /** The name /proc/interrupts gives it: virtio0-input.0, ens1f0-TxRx-3, mlx5_comp0@pci:0000:3b:00.0. */
  queue: string;
  kind: 'rx' | 'tx' | 'combined';
  /** Queue index within its kind (ens1f0-TxRx-3 → 3). */
  index: number;
  /** /proc/irq/N/smp_affinity_list; null when it could not be read. */
  affinity: number[] | null;
  /** Interrupts served so far, indexed by CPU number (0 for CPUs absent from /proc/interrupts). */
  counts: number[];
}

export interface NicFacts {
  name: string;
  /** Kernel driver bound to the device (e1000e, virtio_net, ixgbe…); null for virtual links. */
  driver: string | null;
  mac: string | null;
  /** PCI address (0000:3b:00.0) of the device, also for virtio NICs; null when not on PCI. */
  pci: string | null;
  /** NUMA node of the device; null when unknown (the kernel's -1) or not a device. */
  numaNode: number | null;
  /** True for software links (lo, veth, bridges, tap, vnet…). */
  virtual: boolean;
  /** Mbit/s; null when the link is down or the driver does not say. */
  speedMbps: number | null;
  mtu: number | null;
  operstate: string | null;
  rxQueues: number;
  txQueues: number;
  /** ethtool -g: null when not asked (virtual link) or not supported. */
  ring: { rxMax: number | null; txMax: number | null; rx: number | null; tx: number | null } | null;
  /** ethtool -l: null when not asked or not supported. */
  channels: {
    maxCombined: number | null;
    maxRx: number | null;
    maxTx: number | null;
    combined: number | null;
    rx: number | null;
    tx: number | null;
  } | null;
  /** virtio device name behind the NIC (virtio0), for /proc/interrupts. */
  virtio: string | null;
  interrupts: NicQueueInterrupts | null;
  /** Queue IRQs, by IRQ number; null for software links and facts saved before they were gathered. */
  irq?: NicQueueIrq[] | null;
}

export interface HugepagePool {
  sizeKiB: number;
  total: number;
  free: number | null;
  reserved: number | null;
  surplus: number | null;
}

export interface MemoryFacts {
  totalKiB: number | null;
  freeKiB: number | null;
  availableKiB: number | null;
  hugepages: { defaultSizeKiB: number | null; pools: HugepagePool[] };
  /** Transparent hugepages: the bracketed choice and all offered choices; null when absent. */
  thp: { enabled: string | null; defrag: string | null; enabledChoices: string[]; defragChoices: string[] } | null;
  /** KSM: /sys/kernel/mm/ksm/run (0 off, 1 on, 2 unmerge); null when absent. */
  ksmRun: number | null;
}

export type BootTool = 'update-grub' | 'grub2-mkconfig' | 'grub-mkconfig' | 'grubby' | 'none';

export interface BootFacts {
  tool: BootTool;
  firmware: 'uefi' | 'bios';
  /** The grub.cfg that the tool regenerates; null for grubby or none. */
  grubConfig: string | null;
  /** Boot Loader Specification entries (/boot/loader/entries) in use. */
  bls: boolean;
}

export type EthtoolPersistence = 'systemd-link' | 'udev' | 'ifupdown' | 'NetworkManager';

export type VirtRole = 'xen-dom0' | 'kvm-host' | 'guest' | 'bare-metal';

export interface VirtFacts {
  /** The main role; a nested KVM host inside a guest is 'kvm-host' (roles lists both). */
  role: VirtRole;
  roles: VirtRole[];
  /** For a guest: kvm, qemu, xen, vmware, microsoft, oracle, amazon…; null when not a guest or unknown. */
  hypervisor: string | null;
  kvm: { device: boolean; virsh: boolean; libvirtd: boolean };
  xen: { dom0: boolean; xe: boolean };
}

export interface DomainFacts {
  name: string;
  /** running, shut off, paused… (virsh words). */
  state: string;
  vcpus: number | null;
  maxVcpus: number | null;
  memoryKiB: number | null;
  maxMemoryKiB: number | null;
}

/** Daemons that move threads, memory or interrupts by themselves (src/facts/daemons.ts). */
export interface DaemonFacts {
  /** Which of numad, tuned and irqbalance run now. */
  running: string[];
  /** tuned's active profile (/etc/tuned/active_profile) and the cores it isolates, when its variables file says. */
  tuned: { profile: string | null; isolatedCores: number[] | null };
}

export interface Facts {
  hostname: string;
  kernel: { release: string; version: [number, number, number]; build?: string };
  distribution?: { id: string; version: string; name: string; like: string[] };
  cpu?: CpuFacts;
  numa?: NumaFacts;
  nics?: NicFacts[];
  memory?: MemoryFacts;
  cmdline?: string;
  boot?: BootFacts;
  init?: { system: 'systemd' | 'other'; pid1: string };
  ethtoolPersistence?: EthtoolPersistence[];
  virt?: VirtFacts;
  /** null when libvirt is absent or not answering; [] when it answers with no domains. */
  domains?: DomainFacts[] | null;
  /** Commands found on the host's PATH (by name). */
  commands?: string[];
  daemons?: DaemonFacts;
  /** Extended by other parts; modules must tolerate absent optional parts. */
  [key: string]: unknown;
}
