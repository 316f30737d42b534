// The facts gatherer: ONE POSIX sh script (dash-safe) run in one round trip. It forks as little as
// possible — one grep reads every small sysfs/proc/etc file at once (`path:line`), shell globs and
// builtins list queues and paths — so a host with hundreds of vnet links answers in a few forks.
// Absent files are normal (containers, guests, old kernels): every read is silent on error.
// Output: sections headed `@@hvtune:NAME[ ARG]`, parsed by sections.ts. Nothing here is user
// input; NIC names come from the host's own /sys and are double-quoted.

/** The daemons the facts look for, by process name. */
export const WATCHED_DAEMONS = ['numad', 'tuned', 'irqbalance'] as const;

/** tuned profiles whose variables file names the cores they isolate (`isolated_cores=`). */
export const TUNED_VARIABLES_FILES: Record<string, string> = {
  'cpu-partitioning': '/etc/tuned/cpu-partitioning-variables.conf',
  'realtime-virtual-host': '/etc/tuned/realtime-virtual-host-variables.conf',
  'realtime-virtual-guest': '/etc/tuned/realtime-virtual-guest-variables.conf',
  realtime: '/etc/tuned/realtime-variables.conf',
};

const SYS = '/sys/devices/system';
const NET = '/sys/class/net';
const HP = '/sys/kernel/mm/hugepages/hugepages-*';
const NODE_HP = `${SYS}/node/node[0-9]*/hugepages/hugepages-*`;

/** Small files read whole by one grep; each line comes back as `path:line`. */
const SMALL_FILES = [
  '/etc/os-release',
  '/usr/lib/os-release',
  '/etc/default/grub',
  '/proc/meminfo',
  `${SYS}/node/node[0-9]*/meminfo`,
  '/proc/sys/kernel/hostname',
  '/proc/sys/kernel/osrelease',
  '/proc/sys/kernel/version',
  '/proc/cmdline',
  '/proc/1/comm',
  '/proc/xen/capabilities',
  '/sys/hypervisor/type',
  '/sys/class/dmi/id/sys_vendor',
  '/sys/class/dmi/id/product_name',
  `${SYS}/cpu/online`,
  `${SYS}/cpu/smt/active`,
  `${SYS}/cpu/cpu[0-9]*/topology/core_id`,
  `${SYS}/cpu/cpu[0-9]*/topology/physical_package_id`,
  `${SYS}/cpu/cpu[0-9]*/topology/thread_siblings_list`,
  `${SYS}/node/node[0-9]*/cpulist`,
  `${SYS}/node/node[0-9]*/distance`,
  `${NODE_HP}/nr_hugepages`,
  `${NODE_HP}/free_hugepages`,
  `${HP}/nr_hugepages`,
  `${HP}/free_hugepages`,
  `${HP}/resv_hugepages`,
  `${HP}/surplus_hugepages`,
  '/sys/kernel/mm/transparent_hugepage/enabled',
  '/sys/kernel/mm/transparent_hugepage/defrag',
  '/sys/kernel/mm/ksm/run',
  `${NET}/*/address`,
  `${NET}/*/mtu`,
  `${NET}/*/operstate`,
  `${NET}/*/speed`,
  `${NET}/*/device/numa_node`,
  '/etc/tuned/active_profile',
  ...Object.values(TUNED_VARIABLES_FILES),
];

/** Paths whose existence matters (tested by the shell itself, no fork). */
const EXISTS = [
  '/dev/kvm',
  '/sys/firmware/efi',
  '/run/systemd/system',
  '/etc/network/interfaces',
  '/etc/network/if-pre-up.d/ethtool',
  '/etc/NetworkManager',
  '/lib/systemd/network',
  '/usr/lib/systemd/network',
  '/boot/grub/grub.cfg',
  '/boot/grub2/grub.cfg',
  '/run/libvirt/libvirt-sock',
  '/run/libvirt/virtqemud-sock',
  '/var/run/libvirt/libvirt-sock',
];

export const FACT_COMMANDS = [
  'update-grub',
  'grub2-mkconfig',
  'grub-mkconfig',
  'grubby',
  'ethtool',
  'virsh',
  'xe',
  'systemd-detect-virt',
  'udevadm',
  'nmcli',
  'ifup',
  'timeout',
  'numactl',
  'tuned-adm',
  'irqbalance',
];

/** Seconds virsh may take before its answer is dropped (a hung libvirtd must not hang facts). */
export const VIRSH_TIMEOUT_S = 3;

export const SECTION_MARK = '@@hvtune:';

const section = (name: string, arg = '') => `echo '${SECTION_MARK}${name}'${arg ? ` "${arg}"` : ''}`;

export const FACTS_SCRIPT = [
  'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"; LC_ALL=C; export PATH LC_ALL',
  section('files'),
  `grep -Hs '' ${SMALL_FILES.join(' ')}`,
  section('cpuinfo'),
  // The first processor block is enough: vendor, model and flags are the same on every CPU.
  // `read` is a builtin: no process for it, and /proc/cpuinfo of a big host is never read whole.
  'while IFS= read -r l; do [ -z "$l" ] && break; printf \'%s\\n\' "$l"; done < /proc/cpuinfo',
  section('links'),
  // `ls -ld` shows every symlink target in one process: the NIC's device path (PCI address,
  // virtual or not), its device and its driver.
  `ls -ld ${NET}/* ${NET}/*/device ${NET}/*/device/driver 2>/dev/null`,
  section('queues'),
  `for q in ${NET}/*/queues/*; do [ -e "$q" ] && echo "$q"; done`,
  section('exists'),
  `for p in ${EXISTS.join(' ')}; do [ -e "$p" ] && echo "$p"; done`,
  'for p in /boot/loader/entries/*.conf; do [ -e "$p" ] && echo /boot/loader/entries; break; done',
  section('efi-grub'),
  // A grub.cfg on the ESP that only chains to /boot/grub2 (RHEL 9) is a stub, not the config.
  'for p in /boot/efi/EFI/*/grub.cfg; do [ -e "$p" ] && grep -Hsc configfile /boot/efi/EFI/*/grub.cfg; break; done',
  section('commands'),
  `for c in ${FACT_COMMANDS.join(' ')}; do command -v "$c" 2>/dev/null; done`,
  section('daemons'),
  // Process names of every PID in one grep: which of them run now (static pins compete with them).
  `grep -sxE '${WATCHED_DAEMONS.join('|')}' /proc/[0-9]*/comm`,
  section('msi-irqs'),
  // Each device-backed NIC's MSI vectors (a virtio NIC's sit on its PCI function, one level up),
  // and a grep pattern of them and of the NIC's name, so /proc/interrupts of a big host is read
  // only for the lines that are NIC queues. IRQ numbers change between boots: names decide.
  'p=""',
  `for d in ${NET}/*/device; do`,
  '  [ -e "$d" ] || continue; n=${d%/device}; n=${n##*/}; m="$d/msi_irqs"',
  '  [ -e "$m" ] || { [ -e "$d/features" ] && m="$d/../msi_irqs"; }',
  '  case $n in *[!A-Za-z0-9_.-]*) ;; *) p="$p|[ -]$n([-@ ]|$)";; esac',
  '  for i in "$m"/*; do [ -e "$i" ] && { echo "$n ${i##*/}"; p="$p|^ *${i##*/}:"; }; done',
  'done',
  'for v in /sys/bus/virtio/devices/virtio*; do [ -e "$v" ] && p="$p|virtio[0-9]+-(input|output)"; break; done',
  section('interrupts'),
  'i=""; [ -n "$p" ] && i=$(grep -s -E "^ *CPU$p" /proc/interrupts); [ -n "$i" ] && printf \'%s\\n\' "$i"',
  section('irq-affinity'),
  'a=""',
  'while read -r n r; do n=${n%:}; case $n in ""|*[!0-9]*) ;; *) a="$a /proc/irq/$n/smp_affinity_list";; esac; done <<EOF',
  '$i',
  'EOF',
  '[ -n "$a" ] && grep -Hs \'\' $a',
  'if command -v systemd-detect-virt >/dev/null 2>&1; then',
  `  ${section('detect-virt')}; systemd-detect-virt --vm 2>/dev/null`,
  'fi',
  'if command -v ethtool >/dev/null 2>&1; then',
  // Only NICs backed by a device: rings and channels of software links say nothing useful.
  `  for d in ${NET}/*/device; do`,
  '    [ -e "$d" ] || continue; n=${d%/device}; n=${n##*/}',
  `    ${section('ethtool-g', '$n')}; ethtool -g "$n" 2>&1`,
  `    ${section('ethtool-l', '$n')}; ethtool -l "$n" 2>&1`,
  '  done',
  'fi',
  'if command -v virsh >/dev/null 2>&1 && { [ -S /run/libvirt/libvirt-sock ] || [ -S /run/libvirt/virtqemud-sock ] || [ -S /var/run/libvirt/libvirt-sock ]; }; then',
  `  t=''; command -v timeout >/dev/null 2>&1 && t='timeout ${VIRSH_TIMEOUT_S}'`,
  `  ${section('domstats')}`,
  '  $t virsh -q -c qemu:///system domstats --state --vcpu --balloon 2>&1; echo "exit=$?"',
  'fi',
  section('end'),
  'exit 0',
].join('\n');
