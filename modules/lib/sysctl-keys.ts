// What hvtune knows about particular sysctl keys: value shapes, removals, prerequisites.

/** Keys whose values are integer tuples; a wrong count is an input error, found before connecting. */
export const INTEGER_TUPLES: Record<string, number> = {
  'net.ipv4.tcp_rmem': 3,
  'net.ipv4.tcp_wmem': 3,
  'net.ipv4.tcp_mem': 3,
  'net.ipv4.udp_mem': 3,
  'net.sctp.sctp_mem': 3,
  'net.sctp.sctp_rmem': 3,
  'net.sctp.sctp_wmem': 3,
  'net.ipv4.ip_local_port_range': 2,
  'net.ipv4.ping_group_range': 2,
  'kernel.sem': 4,
  'kernel.printk': 4,
};

interface Removal {
  since: [number, number];
  why: string;
}

/** Keys removed from Linux: setting them is an error that names the kernel and says why. */
export const REMOVED_KEYS: Record<string, Removal> = {
  'net.ipv4.tcp_tw_recycle': {
    since: [4, 12],
    why: 'removed in Linux 4.12 (it broke clients behind NAT); use net.ipv4.tcp_tw_reuse',
  },
  'net.ipv4.tcp_fack': { since: [4, 15], why: 'removed in Linux 4.15 (RACK replaced FACK)' },
  'net.ipv4.tcp_low_latency': { since: [4, 14], why: 'a no-op since Linux 4.14' },
  'net.ipv4.netfilter.ip_conntrack_max': {
    since: [2, 6],
    why: 'renamed: use net.netfilter.nf_conntrack_max',
  },
};

/** Keys that only exist once a kernel module is loaded. */
export const MODULE_KEYS: [prefix: string, module: string][] = [
  ['net.bridge.bridge-nf-', 'br_netfilter'],
  ['net.netfilter.nf_conntrack_', 'nf_conntrack'],
  ['net.nf_conntrack_max', 'nf_conntrack'],
  ['net.ipv4.vs.', 'ip_vs'],
  ['net.sctp.', 'sctp'],
];

/** Keys a network namespace does not have or may not write (LAB.md; containers hit the same). */
export const NETNS_LIMITED =
  /^net\.core\.(netdev_max_backlog|netdev_budget(_usecs)?|dev_weight|busy_poll|busy_read|default_qdisc|[rw]mem_(max|default))$|^net\.ipv4\.tcp_mem$/;

export function missingKeyHint(key: string, kernel: [number, number, number]): string {
  const removal = REMOVED_KEYS[key];
  if (removal) {
    const [maj, min] = removal.since;
    if (kernel[0] > maj || (kernel[0] === maj && kernel[1] >= min)) return removal.why;
  }
  const mod = MODULE_KEYS.find(([prefix]) => key.startsWith(prefix));
  if (mod) return `it appears when the ${mod[1]} module is loaded (modprobe ${mod[1]}; persist it in /etc/modules-load.d)`;
  if (NETNS_LIMITED.test(key)) return 'network namespaces (containers) do not have it; set it on the host itself';
  return 'check the spelling, or whether this kernel has the feature';
}
