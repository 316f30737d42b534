// The probe's sampler: ONE POSIX sh script per sample, one round trip. Like the facts gatherer it
// forks little: greps read many small files at once, shell builtins read the rest. Every section
// is optional: a missing file or tool leaves its section empty and the parser notes it.
// The only values from outside the script are IRQ numbers (integers, from facts).

import { SECTION_MARK, VIRSH_TIMEOUT_S } from '../facts/script.js';

const section = (name: string, arg = '') => `echo '${SECTION_MARK}${name}'${arg ? ` "${arg}"` : ''}`;

/**
 * /sys/class/net/DEV/statistics counters read for device-backed NICs, beside /proc/net/dev (which
 * has every link in one file, but folds rx_missed_errors into its drop column and
 * rx_over_errors into frame).
 */
export const STATISTICS = ['rx_dropped', 'tx_dropped', 'rx_missed_errors', 'rx_fifo_errors', 'rx_over_errors'];

/** `ethtool -S` counters kept: the drop and miss names drivers use (rx_dropped, rx_missed_errors, rx_no_buffer_count, rx_fifo_errors, rx_queue_0_drops…). */
export const ETHTOOL_DROP_PATTERN = 'drop|miss|no_buf|nobuf|fifo|discard|over|squeeze|busy';

const NODE_HP = '/sys/devices/system/node/node[0-9]*/hugepages/hugepages-*';

/** qemu:///system through virsh, bounded by timeout when the host has it. */
const VIRSH = '$t virsh -q -c qemu:///system';

/** Sum a numa_maps file per node in KiB (N<node>=<pages> × kernelpagesize_kB): one awk, a few lines back. */
const NUMA_MAPS_AWK =
  'awk \'{k=4; for(i=1;i<=NF;i++) if ($i ~ /^kernelpagesize_kB=/) k=substr($i,19); for(i=1;i<=NF;i++) if ($i ~ /^N[0-9]+=/) {split(substr($i,2),a,"="); s[a[1]]+=a[2]*k}} END {for (n in s) print "N" n "=" s[n]}\'';

export interface ProbeScriptOptions {
  /** Kernels before 6.4 run vhost workers as kernel threads of their own (found by name in /proc). */
  vhostKernelThreads: boolean;
}

export function probeScript(irqs: readonly number[], opts: ProbeScriptOptions): string {
  const irqPattern = irqs.filter((n) => Number.isInteger(n) && n >= 0).map((n) => `^ *${n}:`);
  return [
    'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"; LC_ALL=C; export PATH LC_ALL',
    section('uptime'),
    'read -r u r < /proc/uptime && echo "$u"',
    section('softirqs'),
    "grep -s -E '^ *CPU|^ *NET_(RX|TX):' /proc/softirqs",
    section('softnet'),
    "grep -s '' /proc/net/softnet_stat",
    section('snmp'),
    "grep -s '^Udp:' /proc/net/snmp",
    section('netstat'),
    "grep -s '^TcpExt:' /proc/net/netstat",
    section('netdev'),
    "grep -s ':' /proc/net/dev",
    // A host with hundreds of vnet links: per-file statistics only for the few device-backed NICs.
    'e=""; command -v ethtool >/dev/null 2>&1 && e=1; [ -n "$e" ] || ' + section('missing', 'ethtool'),
    's=""',
    'for d in /sys/class/net/*/device; do',
    '  [ -e "$d" ] || continue; n=${d%/device}; n=${n##*/}',
    `  for c in ${STATISTICS.join(' ')}; do s="$s /sys/class/net/$n/statistics/$c"; done`,
    `  [ -n "$e" ] && { ${section('ethtool-S', '$n')}; ethtool -S "$n" 2>/dev/null | grep -i -E '${ETHTOOL_DROP_PATTERN}'; }`,
    'done',
    section('statistics'),
    '[ -n "$s" ] && grep -Hs \'\' $s',
    section('interrupts'),
    irqPattern.length ? `grep -s -E '^ *CPU|${irqPattern.join('|')}' /proc/interrupts` : ':',
    section('hugepages'),
    `grep -Hs '' ${NODE_HP}/nr_hugepages ${NODE_HP}/free_hugepages`,
    'if command -v virsh >/dev/null 2>&1 && { [ -S /run/libvirt/libvirt-sock ] || [ -S /run/libvirt/virtqemud-sock ] || [ -S /var/run/libvirt/libvirt-sock ]; }; then',
    `  t=''; command -v timeout >/dev/null 2>&1 && t='timeout ${VIRSH_TIMEOUT_S}'`,
    `  l=$(${VIRSH} list --name 2>/dev/null) || { ${section('missing', 'libvirt')}; l=''; }`,
    `  ${section('domains')}`,
    // vhost workers: kernel threads named vhost-<qemu pid> before 6.4 (a scan of every process, so
    // only there and only with domains running), threads of QEMU since.
    ...(opts.vhostKernelThreads
      ? [
          `  [ -n "$l" ] && { ${section('vhost')}; for c in /proc/[0-9]*/comm; do read -r x 2>/dev/null < "$c" || continue; case $x in vhost-*) read -r s < "\${c%/comm}/stat" && echo "$s";; esac; done; }`,
        ]
      : []),
    '  while IFS= read -r dom; do',
    '    [ -n "$dom" ] || continue',
    `    ${section('domain', '$dom')}`,
    '    pid=""; read -r pid 2>/dev/null < "/run/libvirt/qemu/$dom.pid"; echo "pid=$pid"',
    `    ${section('vcpuinfo', '$dom')}; ${VIRSH} vcpuinfo --domain "$dom" 2>/dev/null`,
    '    case $pid in ""|*[!0-9]*) continue;; esac',
    '    if command -v numastat >/dev/null 2>&1; then',
    `      ${section('numastat', '$dom')}; numastat -p "$pid" 2>/dev/null`,
    '    elif [ -r "/proc/$pid/numa_maps" ]; then',
    `      ${section('numa_maps', '$dom')}; ${NUMA_MAPS_AWK} "/proc/$pid/numa_maps" 2>/dev/null`,
    '    fi',
    `    ${section('threads', '$dom')}`,
    '    for c in /proc/$pid/task/*/comm; do read -r x 2>/dev/null < "$c" || continue; case $x in vhost-*) read -r s < "${c%/comm}/stat" && echo "$s";; esac; done',
    '  done <<EOF',
    '$l',
    'EOF',
    'else',
    `  ${section('missing', 'libvirt')}`,
    'fi',
    section('end'),
    'exit 0',
  ].join('\n');
}
