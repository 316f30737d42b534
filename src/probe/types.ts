// The shapes of `hvtune probe`: a sample is raw counters read in one round trip; a host's probe
// is the rates between two samples (per second) and the state seen in the second one.

/** One queue IRQ's counts by CPU number. */
export interface IrqCounts {
  irq: number;
  counts: number[];
}

export interface SoftnetRow {
  cpu: number;
  processed: number;
  dropped: number;
  timeSqueeze: number;
}

export interface VcpuState {
  vcpu: number;
  /** The CPU it runs on now; null when libvirt does not say (shut off). */
  cpu: number | null;
  /** Its live affinity ("CPU Affinity: --yy"), the CPUs it is pinned to. */
  pin: number[];
}

export interface ThreadSample {
  tid: number;
  name: string;
  /** CPU it last ran on (/proc/T/stat field 39). */
  cpu: number;
  /** utime + stime in clock ticks. */
  ticks: number;
}

export interface DomainSample {
  name: string;
  pid: number | null;
  vcpus: VcpuState[] | null;
  /** Memory of the QEMU process per NUMA node, KiB; null when neither numastat nor numa_maps answered. */
  memoryByNodeKiB: Record<string, number> | null;
  memorySource: 'numastat' | 'numa_maps' | null;
  vhost: ThreadSample[];
}

/** Raw counters of one host at one moment. A section the host could not give is null, with a note. */
export interface ProbeSample {
  /** Seconds since boot (/proc/uptime): the interval is measured on the host's own clock. */
  uptime: number | null;
  softirqs: { netRx: number[]; netTx: number[] } | null;
  softnet: SoftnetRow[] | null;
  /** /proc/net/snmp Udp: counters (this host's network namespace). */
  udp: Record<string, number> | null;
  /** /proc/net/netstat TcpExt: the drop counters. */
  tcp: Record<string, number> | null;
  /** By NIC: /proc/net/dev (rx_packets, rx_drop…) for every link, /sys/class/net/DEV/statistics (rx_dropped, rx_missed_errors…) for device-backed ones. */
  statistics: Record<string, Record<string, number>>;
  /** `ethtool -S` drop and miss counters, by device-backed NIC; null when ethtool is missing. */
  ethtool: Record<string, Record<string, number>> | null;
  interrupts: IrqCounts[] | null;
  hugepages: { node: number; sizeKiB: number; total: number; free: number }[] | null;
  /** null when libvirt is absent or not answering. */
  domains: DomainSample[] | null;
  notes: string[];
}

export interface CpuRate {
  cpu: number;
  perSecond: number;
}

export interface QueueRate {
  nic: string;
  queue: string;
  irq: number;
  affinity: number[] | null;
  /** Interrupts per second on each CPU that served any. */
  perCpu: CpuRate[];
  perSecond: number;
}

export interface DomainProbe {
  name: string;
  pid: number | null;
  memory: {
    source: 'numastat' | 'numa_maps';
    byNodeKiB: Record<string, number>;
    /** Nodes of the CPUs its vCPUs are pinned to (or run on, when unpinned). */
    localNodes: number[];
    localKiB: number;
    remoteKiB: number;
    remotePercent: number;
  } | null;
  vcpus: (VcpuState & { offPin: boolean })[] | null;
  vhost: { tid: number; name: string; cpus: number[]; cpuPercent: number | null }[];
}

/** A host's probe: rates per second over `seconds`, and the state at the second sample. */
export interface HostProbe {
  seconds: number;
  netRx: CpuRate[] | null;
  softnet: SoftnetRow[] | null;
  udp: Record<string, number> | null;
  tcp: Record<string, number> | null;
  /** NIC → counter → per second: drop and miss counters, packets for scale. */
  nics: Record<string, { statistics: Record<string, number>; ethtool: Record<string, number> }>;
  queues: QueueRate[] | null;
  hugepages: { node: number; sizeKiB: number; total: number; free: number; used: number }[] | null;
  domains: DomainProbe[] | null;
  /** The figures compare weighs, per second unless named otherwise. */
  summary: {
    softnetDropped: number | null;
    timeSqueeze: number | null;
    /** CPUs some vCPU is pinned to (pins narrower than the whole host). */
    vcpuCpus: number[];
    /** NIC queue interrupts per second landing on vcpuCpus; null without pinned vCPUs or queue IRQs. */
    irqsOnVcpuCpus: number | null;
    vcpusOffPin: number | null;
  };
  notes: string[];
}

export interface ProbeReport {
  format: 'hvtune-probe';
  version: 1;
  taken: string;
  interval: number;
  hosts: Record<string, HostProbe>;
  failures: Record<string, string>;
}

export type Verdict = 'better' | 'worse' | 'same';

export interface CompareLine {
  host: string;
  /** What is compared, as a person reads it: "udp RcvbufErrors/s", "domain vm1 remote memory %". */
  what: string;
  before: number | null;
  after: number | null;
  verdict: Verdict;
}
