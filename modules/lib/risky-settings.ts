// Settings the seeds recommend that can hurt a host: each is allowed (a playbook may choose it on
// purpose) and warned about at plan time, whenever a task sets it, with what it costs.

const MODULE_OPTIONS: Record<string, Record<string, (value: string) => string | null>> = {
  vhost_net: {
    experimental_zcopytx: (v) =>
      v === '0'
        ? null
        : 'vhost_net experimental_zcopytx=1: zero-copy transmit makes a guest wait for the slowest receiver of its ' +
          'packets (head-of-line blocking); upstream turned it off by default in 2019. Keep it for bulk-only guests you measured',
  },
  igb: {
    max_vfs: (v) =>
      v === '0'
        ? null
        : `igb max_vfs=${v} creates VFs on every igb port at driver load and is deprecated: set the VFs per port ` +
          'with /sys/class/net/IF/device/sriov_numvfs instead',
  },
};

/** Warnings for risky options of a kernel module. */
export function riskyModuleOptions(module: string, options: Record<string, string | number | boolean>): string[] {
  const rules = MODULE_OPTIONS[module.replace(/-/g, '_')] ?? {};
  return Object.entries(options)
    .map(([option, value]) => rules[option]?.(String(value)) ?? null)
    .filter((w): w is string => w !== null);
}

const BRIDGE_NF = /^net\.bridge\.bridge-nf-call-(iptables|ip6tables|arptables)$/;

/** A warning for a risky sysctl value, or null. */
export function riskySysctl(key: string, value: string): string | null {
  const bridge = BRIDGE_NF.exec(key);
  if (bridge && value === '0')
    return (
      `${key}=0: bridged guest traffic no longer passes ${bridge[1]}, which turns off iptables-based guest firewalls ` +
      '(security groups, libvirt nwfilter); only for hosts that filter guests elsewhere'
    );
  return null;
}

/** A warning for lowering a limit the kernel sizes for the host, or null. */
export function loweredKernelLimit(key: string, live: string, value: string): string | null {
  if (key !== 'fs.file-max' || !/^\d+$/.test(live) || !/^\d+$/.test(value) || BigInt(value) >= BigInt(live)) return null;
  return `${key} ${value} is lower than the kernel's ${live} on this host: set it with only_raise: true to never lower it`;
}

/** A warning for a risky sysfs value, or null. */
export function riskySysfs(path: string, value: string): string | null {
  if (path.endsWith('/transparent_hugepage/defrag') && value === 'always')
    return (
      'transparent_hugepage/defrag=always stalls every process that faults memory in direct compaction (latency spikes ' +
      'for guests and the host); defer+madvise gives QEMU its huge pages without that'
    );
  return null;
}

export const BLKIO_WEIGHT =
  "blkiotune weight is honoured only where the domain's disks sit on a device with the bfq scheduler; mq-deadline, kyber and " +
  'none ignore it, so the weight changes nothing there';
