// Recorded machine layouts (the shapes of real servers' sysfs) for topology tests.

import type { SyntheticLayout } from './synthetic.js';

const debian12 = ['PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"', 'NAME="Debian GNU/Linux"', 'VERSION_ID="12"', 'ID=debian'];
const rocky8 = [
  'NAME="Rocky Linux"',
  'VERSION_ID="8.9"',
  'ID="rocky"',
  'ID_LIKE="rhel centos fedora"',
  'PRETTY_NAME="Rocky Linux 8.9 (Green Obsidian)"',
];
const rocky9 = [
  'NAME="Rocky Linux"',
  'VERSION_ID="9.3"',
  'ID="rocky"',
  'ID_LIKE="rhel centos fedora"',
  'PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"',
];
const intelFlags =
  'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush ht vmx smx est pdpe1gb rdtscp lm constant_tsc tpr_shadow vnmi flexpriority ept vpid ept_ad';
const amdFlags =
  'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm svm npt nrip_save avic';

export const LAYOUTS: Record<string, SyntheticLayout> = {
  /** One socket, 8 cores with HT; the platform gives the NIC no locality (numa_node -1). */
  'one-socket-ht': {
    hostname: 'edge1',
    release: '6.1.0-18-amd64',
    vendor: 'GenuineIntel',
    model: 'Intel(R) Xeon(R) E-2278G CPU @ 3.40GHz',
    flags: intelFlags,
    sockets: 1,
    coresPerSocket: 8,
    threadsPerCore: 2,
    nodesPerSocket: 1,
    distances: [[10]],
    memPerNodeKiB: 65_000_000,
    osRelease: debian12,
    family: 'debian',
    cmdline: 'BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet',
    nics: [{ name: 'eno1', driver: 'igb', pci: '0000:02:00.0', node: -1, speed: 1000, queues: 8, ringMax: 4096 }],
  },
  /**
   * The machine of seed 003's domain XML: 2 sockets × 10 cores, HT on; socket 0 = CPUs 0-9,
   * socket 1 = 10-19, their hyper-threads 20-29 and 30-39; X710 NIC on NUMA node 0. Intel
   * core_ids have gaps (0-4, 8-12), as on a real E5-2630 v4.
   */
  'seed003-2s10c-ht': {
    hostname: 'zs-compute1',
    release: '4.18.0-513.el8.x86_64',
    vendor: 'GenuineIntel',
    model: 'Intel(R) Xeon(R) CPU E5-2630 v4 @ 2.20GHz',
    flags: intelFlags,
    sockets: 2,
    coresPerSocket: 10,
    threadsPerCore: 2,
    coreIds: [0, 1, 2, 3, 4, 8, 9, 10, 11, 12],
    nodesPerSocket: 1,
    distances: [
      [10, 21],
      [21, 10],
    ],
    memPerNodeKiB: 131_000_000,
    osRelease: rocky8,
    family: 'rhel',
    cmdline: 'BOOT_IMAGE=(hd0,gpt2)/vmlinuz root=/dev/mapper/rl-root ro crashkernel=auto',
    nics: [
      { name: 'ens1f0', driver: 'i40e', pci: '0000:3b:00.0', node: 0, speed: 10000, queues: 40, ringMax: 4096, irqBase: 97 },
      { name: 'ens1f1', driver: 'i40e', pci: '0000:3b:00.1', node: 0, speed: 10000, queues: 40, ringMax: 4096 },
    ],
  },
  /** 2 sockets × 16 cores with HT off (seed 003's "2 sockets, 32 cores" example); NIC on node 1. */
  'two-socket-ht-off': {
    hostname: 'kvm7',
    release: '5.14.0-362.el9.x86_64',
    vendor: 'GenuineIntel',
    model: 'Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz',
    flags: intelFlags,
    sockets: 2,
    coresPerSocket: 16,
    threadsPerCore: 1,
    nodesPerSocket: 1,
    distances: [
      [10, 21],
      [21, 10],
    ],
    memPerNodeKiB: 196_000_000,
    osRelease: rocky9,
    family: 'rhel',
    cmdline: 'BOOT_IMAGE=(hd0,gpt2)/vmlinuz root=/dev/mapper/rl-root ro',
    nics: [{ name: 'ens2f0', driver: 'ixgbe', pci: '0000:af:00.0', node: 1, speed: 10000, queues: 32, ringMax: 4096 }],
  },
  /** AMD EPYC 7542, 2 sockets × 32 cores, SMT on, NPS4: 4 NUMA nodes per socket (8 in all). */
  'amd-epyc-nps4': {
    hostname: 'epyc1',
    release: '6.1.0-18-amd64',
    vendor: 'AuthenticAMD',
    model: 'AMD EPYC 7542 32-Core Processor',
    flags: amdFlags,
    sockets: 2,
    coresPerSocket: 32,
    threadsPerCore: 2,
    nodesPerSocket: 4,
    distances: [0, 1, 2, 3, 4, 5, 6, 7].map((i) =>
      [0, 1, 2, 3, 4, 5, 6, 7].map((j) =>
        i === j ? 10 : Math.floor(i / 4) !== Math.floor(j / 4) ? 32 : Math.floor(i / 2) === Math.floor(j / 2) ? 11 : 12,
      ),
    ),
    memPerNodeKiB: 65_000_000,
    osRelease: debian12,
    family: 'debian',
    cmdline: 'BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=/dev/nvme0n1p2 ro',
    nics: [{ name: 'enp65s0f0np0', driver: 'mlx5_core', pci: '0000:41:00.0', node: 2, speed: 25000, queues: 63, ringMax: 8192 }],
  },
};
