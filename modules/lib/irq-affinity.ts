// NIC queue interrupts by name, never by number (IRQ numbers change from boot to boot): the shell
// resolver that both the module's read and the boot-time script run, the files hvtune installs to
// put the affinity back at boot, and irqbalance's environment file. Pure text; no I/O.

import { formatCpuList } from '../../src/facts/cpulist.js';
import { sh } from '../../src/quote.js';

export const SCRIPT_PATH = '/usr/local/libexec/hvtune/irq-affinity';
export const UNIT_NAME = 'hvtune-irq-affinity.service';
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
export const UNIT_WANTS_LINK = `/etc/systemd/system/multi-user.target.wants/${UNIT_NAME}`;
export const CONF_DIR = '/etc/hvtune/irq-affinity.d';
export const confPath = (device: string) => `${CONF_DIR}/${device}.conf`;
export const IRQBALANCE_DEBIAN = '/etc/default/irqbalance';
export const IRQBALANCE_RHEL = '/etc/sysconfig/irqbalance';
export const POLICY_ARG = `--policyscript=${SCRIPT_PATH}`;

/**
 * sh function `hv_queue_irqs DEV`: one line "IRQ QUEUE NAME" per queue interrupt of DEV. The
 * device's interrupts are those listed in its msi_irqs (on the netdev's device, or on the PCI
 * parent of a virtio device); without MSI, the /proc/interrupts names that carry the interface
 * name. The queue number comes from the name: virtio0-input.2, ens1f0-TxRx-2, i40e-ens1f0-TxRx-2,
 * mlx5_comp2@pci:…; misc/config/async vectors have none and are left alone. `$R` prefixes every
 * path (empty on a host; a recorded tree in unit tests). Written for dash and mawk.
 */
export const RESOLVER = String.raw`hv_queue_irqs() {
  _d=$R/sys/class/net/$1
  [ -e "$_d" ] || return 1
  _dev=$(readlink -f "$_d/device" 2>/dev/null) || _dev=
  _msi= _alias=
  if [ -n "$_dev" ]; then
    _alias=$(basename "$_dev")
    for _p in "$_dev/msi_irqs" "$_dev/../msi_irqs"; do
      if [ -d "$_p" ]; then _msi=$(ls "$_p" | tr '\n' ' '); break; fi
    done
  fi
  awk -v dev="$1" -v alias="$_alias" -v msi=" $_msi " '
    $1 ~ /^[0-9]+:$/ {
      irq = substr($1, 1, length($1) - 1); name = $NF
      if (msi ~ /[0-9]/) { if (index(msi, " " irq " ") == 0) next }
      else if (name != dev && index(name, dev "-") != 1 && index(name, "-" dev "-") == 0 && (alias == "" || index(name, alias "-") != 1)) next
      q = ""
      if (match(name, /-(input|output)\.[0-9]+$/)) { q = substr(name, RSTART); sub(/^[^.]*\./, "", q) }
      else if (match(name, /[-_]([Tt][Xx][Rr][Xx]|[Rr][Xx]|[Tt][Xx]|fp)[-_][0-9]+$/)) { q = substr(name, RSTART + 1); sub(/^[^-_]*[-_]/, "", q) }
      else if (match(name, /^mlx5_comp[0-9]+@/)) q = substr(name, 10, RLENGTH - 10)
      if (q != "") print irq, q, name
    }' "$R/proc/interrupts"
}`;

/** What the read script prints for one device: its queue interrupts with their current affinity. */
export function readScript(device: string): string {
  return [
    'R=',
    RESOLVER,
    sh`dev=${device}`,
    'echo "online $(cat /sys/devices/system/cpu/online 2>/dev/null)"',
    'echo "node $(cat /sys/class/net/$dev/device/numa_node 2>/dev/null || echo -1)"',
    'if [ -e "/sys/class/net/$dev" ]; then echo "device present"; else echo "device missing"; fi',
    'hv_queue_irqs "$dev" | while read -r irq q name; do echo "irq $irq $q $(cat /proc/irq/$irq/smp_affinity_list 2>/dev/null || echo -) $name"; done',
    `if [ -L ${UNIT_WANTS_LINK} ] || [ -e ${UNIT_WANTS_LINK} ]; then echo "unit enabled"; else echo "unit disabled"; fi`,
    'if command -v irqbalance >/dev/null 2>&1 || [ -x /usr/sbin/irqbalance ]; then echo "irqbalance installed"; else echo "irqbalance missing"; fi',
    'if command -v systemctl >/dev/null 2>&1; then echo "irqbalance-active $(systemctl is-active irqbalance 2>/dev/null)"; echo "irqbalance-enabled $(systemctl is-enabled irqbalance 2>/dev/null)"; fi',
  ].join('\n');
}

export interface QueueIrq {
  irq: number;
  queue: number;
  name: string;
  /** smp_affinity_list as read, normalised; null when unreadable */
  affinity: string | null;
}

export interface IrqReadout {
  online: string;
  deviceNode: number | null;
  devicePresent: boolean;
  irqs: QueueIrq[];
  unitEnabled: boolean;
  irqbalance: { installed: boolean; active: string | null; enabled: string | null };
}

/** Parse what readScript printed. */
export function parseReadout(stdout: string, normalise: (cpus: string) => string): IrqReadout {
  const out: IrqReadout = {
    online: '',
    deviceNode: null,
    devicePresent: false,
    irqs: [],
    unitEnabled: false,
    irqbalance: { installed: false, active: null, enabled: null },
  };
  for (const line of stdout.split('\n')) {
    const [tag, ...rest] = line.trim().split(/\s+/);
    const value = rest.join(' ');
    if (tag === 'online') out.online = value;
    else if (tag === 'node') out.deviceNode = /^\d+$/.test(value) ? Number(value) : null;
    else if (tag === 'device') out.devicePresent = value === 'present';
    else if (tag === 'unit') out.unitEnabled = value === 'enabled';
    else if (tag === 'irqbalance') out.irqbalance.installed = value === 'installed';
    else if (tag === 'irqbalance-active') out.irqbalance.active = value || null;
    else if (tag === 'irqbalance-enabled') out.irqbalance.enabled = value || null;
    else if (tag === 'irq' && rest.length >= 4) {
      const [irq, queue, affinity, name] = rest;
      out.irqs.push({ irq: Number(irq), queue: Number(queue), name, affinity: affinity === '-' ? null : normalise(affinity) });
    }
  }
  out.irqs.sort((a, b) => a.queue - b.queue || a.name.localeCompare(b.name));
  return out;
}

/** Queue q's CPU: one queue per CPU, round-robin over the allowed CPUs in order. */
export function cpuForQueue(queue: number, cpus: readonly number[]): number {
  return cpus[queue % cpus.length];
}

const HEADER = '# Managed by hvtune (irq_affinity). Changes by hand are put back on the next run.\n';

/** /etc/hvtune/irq-affinity.d/DEV.conf: the device, its CPUs in order, and what irqbalance must avoid. */
export function renderConf(device: string, cpus: readonly number[], banned: readonly number[] | null): string {
  return HEADER + `DEVICE=${device}\nCPUS=${cpus.join(',')}\n` + (banned?.length ? `IRQBALANCE_BAN=${formatCpuList(banned)}\n` : '');
}

/** The IRQBALANCE_BAN of a conf file, as CPU numbers ([] when absent or unreadable). */
export function confBan(content: string, parse: (cpus: string) => number[]): number[] {
  const m = /^IRQBALANCE_BAN=(\S+)$/m.exec(content);
  if (!m) return [];
  try {
    return parse(m[1]);
  } catch {
    return [];
  }
}

/**
 * The boot-time script (and irqbalance policy script). At boot, for each conf file, it waits for
 * the device, resolves its queue interrupts by name and gives queue q the CPU q mod n of CPUS —
 * what the module plans. Called by irqbalance as `--policyscript` with a sysfs path and an IRQ
 * number, it prints ban=true for a queue interrupt of a managed device, so irqbalance leaves it
 * where hvtune put it.
 */
export function renderBootScript(): string {
  return `#!/bin/sh
${HEADER.trim()}
# Puts the queue interrupts of the devices in ${CONF_DIR} on their CPUs. Interrupt numbers
# change from boot to boot: they are found by device and queue name each time.
R=
${RESOLVER}
conf_value() { sed -n "s/^$1=//p" "$2" | head -n 1; }

if [ "$#" -eq 2 ]; then
  case "$1" in
    /sys/*)
      for conf in ${CONF_DIR}/*.conf; do
        [ -e "$conf" ] || continue
        dev=$(conf_value DEVICE "$conf")
        if hv_queue_irqs "$dev" 2>/dev/null | awk -v irq="$2" '$1 == irq { found = 1 } END { exit !found }'; then
          echo ban=true
          exit 0
        fi
      done
      exit 0 ;;
  esac
fi

status=0
for conf in ${CONF_DIR}/*.conf; do
  [ -e "$conf" ] || continue
  dev=$(conf_value DEVICE "$conf")
  cpus=$(conf_value CPUS "$conf" | tr , ' ')
  [ -n "$dev" ] && [ -n "$cpus" ] || continue
  waited=0
  while [ ! -e "/sys/class/net/$dev" ] && [ "$waited" -lt 60 ]; do sleep 1; waited=$((waited + 1)); done
  set -- $cpus
  n=$#
  list=$(hv_queue_irqs "$dev") || { echo "irq-affinity: no device $dev" >&2; status=1; continue; }
  while read -r irq q name; do
    [ -n "$irq" ] || continue
    i=$((q % n + 1))
    eval "cpu=\\$$i"
    if echo "$cpu" > "/proc/irq/$irq/smp_affinity_list"; then
      echo "irq-affinity: $dev $name (irq $irq) on CPU $cpu"
    else
      echo "irq-affinity: $dev $name (irq $irq): CPU $cpu refused" >&2
      status=1
    fi
  done <<EOF
$list
EOF
done
exit $status
`;
}

/** The unit that runs the script at boot, once NICs have their names and after irqbalance's first pass. */
export function renderUnit(): string {
  return `${HEADER}[Unit]
Description=hvtune: NIC queue interrupt affinity, resolved by name at boot
After=network-pre.target systemd-udev-trigger.service irqbalance.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${SCRIPT_PATH}

[Install]
WantedBy=multi-user.target
`;
}

const BANNED_KEY = 'IRQBALANCE_BANNED_CPULIST';
const ARGS_KEY = 'IRQBALANCE_ARGS';

/**
 * irqbalance's environment file with the banned CPU list set and the policy script among its
 * arguments (null = leave the list out: nothing to ban). Other lines are kept as they are.
 */
export function withIrqbalanceBan(content: string | null, banned: readonly number[]): string {
  const lines = (content ?? '').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const setLine = (key: string, make: (old: string | null) => string | null) => {
    const at = lines.findIndex((l) => new RegExp(`^\\s*${key}=`).test(l));
    const old = at >= 0 ? lines[at].replace(new RegExp(`^\\s*${key}=`), '') : null;
    const next = make(old);
    if (next === null) {
      if (at >= 0) lines.splice(at, 1);
    } else if (at >= 0) lines[at] = `${key}=${next}`;
    else lines.push(`${key}=${next}`);
  };
  setLine(BANNED_KEY, () => (banned.length ? `"${formatCpuList(banned)}"` : null));
  setLine(ARGS_KEY, (old) => {
    const m = /^(["']?)(.*)\1\s*$/.exec(old ?? '');
    const words = (m?.[2] ?? '').split(/\s+/).filter(Boolean);
    if (words.includes(POLICY_ARG)) return old;
    return `"${[...words.filter((w) => !w.startsWith('--policyscript=')), POLICY_ARG].join(' ')}"`;
  });
  return `${lines.join('\n')}\n`;
}

/** The banned CPU list irqbalance's file holds now, as text ('' when none). */
export function irqbalanceBanned(content: string | null): string {
  const m = new RegExp(`^\\s*${BANNED_KEY}=(["']?)([^"'\\s]*)\\1\\s*$`, 'm').exec(content ?? '');
  return m?.[2] ?? '';
}
