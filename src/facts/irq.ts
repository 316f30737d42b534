// Queue IRQs of each NIC, found by name, never by number (numbers change from boot to boot): an
// IRQ is the NIC's when it is one of its MSI vectors (/sys/class/net/DEV/device/msi_irqs, or the
// PCI function's for virtio) or when its /proc/interrupts name carries the NIC's name; it is a
// queue when that name has a queue form (virtio0-input.0, ens1f0-TxRx-3, mlx5_comp0@pci:…).

import type { NicQueueIrq } from './types.js';
import { parseCpuListOrEmpty } from './cpulist.js';
import { type RawFacts, parsePathLines, sectionLines } from './sections.js';

type QueueForm = Pick<NicQueueIrq, 'kind' | 'index'>;

const QUEUE_FORMS: [RegExp, NicQueueIrq['kind']][] = [
  [/-input\.(\d+)$/, 'rx'], // virtio-net
  [/-output\.(\d+)$/, 'tx'],
  [/^mlx[45]_comp(\d+)@/, 'combined'], // mlx5: completion vector per channel
  [/-(?:txrx|rxtx|fp|combined|queue|q)-?(\d+)$/i, 'combined'], // ixgbe, i40e, ice, bnxt, bnx2x, be2net
  [/-rx-?(\d+)$/i, 'rx'], // igb, e1000e with separate vectors
  [/-tx-?(\d+)$/i, 'tx'],
];

/** The queue a /proc/interrupts name stands for; null for config, misc, async and link vectors. */
export function queueOfIrqName(name: string): QueueForm | null {
  for (const [re, kind] of QUEUE_FORMS) {
    const m = re.exec(name);
    if (m) return { kind, index: Number(m[1]) };
  }
  return null;
}

export interface InterruptLine {
  irq: number;
  /** The last action name of the line. */
  name: string;
  /** Counts indexed by CPU number. */
  counts: number[];
}

/** /proc/interrupts lines (header "CPU0 CPU1 …" first) → numbered IRQ lines; summary rows (LOC, NMI…) are skipped. */
export function parseInterruptLines(lines: readonly string[]): InterruptLine[] {
  let cpus: number[] = [];
  const out: InterruptLine[] = [];
  for (const line of lines) {
    if (/^\s*CPU\d+/.test(line)) {
      cpus = line
        .trim()
        .split(/\s+/)
        .map((w) => Number(w.replace(/^CPU/, '')));
      continue;
    }
    const words = line.trim().split(/\s+/);
    const irq = /^(\d+):$/.exec(words[0] ?? '');
    if (!irq) continue;
    const counts: number[] = Array.from({ length: cpus.length ? Math.max(...cpus) + 1 : 0 }, () => 0);
    let i = 0;
    for (const w of words.slice(1)) {
      if (!/^\d+$/.test(w) || i >= cpus.length) break;
      counts[cpus[i]] = Number(w);
      i++;
    }
    out.push({ irq: Number(irq[1]), name: words[words.length - 1] ?? '', counts });
  }
  return out;
}

/** Does an interrupt name carry the NIC's name as a word ("i40e-ens1f0-TxRx-3", "ens1f0-rx-0")? */
function namesNic(irqName: string, nic: string): boolean {
  const at = irqName.indexOf(nic);
  if (at < 0) return false;
  const before = at === 0 ? '' : irqName[at - 1];
  const after = irqName[at + nic.length] ?? '';
  return (before === '' || before === '-') && (after === '' || after === '-' || after === '@');
}

/**
 * Gatherer sections `msi-irqs`, `interrupts`, `irq-affinity` → NIC name → its queue IRQs by number.
 * `aliases` gives other names a NIC's IRQs carry: its virtio device (virtio2-input.0 is eth0's),
 * which is how a virtio NIC without MSI vectors (virtio-mmio) is found.
 */
export function parseNicQueueIrqs(raw: RawFacts, aliases: ReadonlyMap<string, string> = new Map()): Map<string, NicQueueIrq[]> {
  const msi = new Map<string, Set<number>>();
  for (const line of sectionLines(raw, 'msi-irqs') ?? []) {
    const m = /^(\S+) (\d+)$/.exec(line.trim());
    if (m) (msi.get(m[1]) ?? msi.set(m[1], new Set()).get(m[1])!).add(Number(m[2]));
  }
  const affinity = parsePathLines(sectionLines(raw, 'irq-affinity') ?? []);
  const lines = parseInterruptLines(sectionLines(raw, 'interrupts') ?? []);
  const out = new Map<string, NicQueueIrq[]>();
  for (const nic of [...msi.keys(), ...aliases.keys()]) out.set(nic, []);
  const named = (irqName: string, nic: string) => namesNic(irqName, nic) || (aliases.has(nic) && namesNic(irqName, aliases.get(nic)!));
  for (const line of lines) {
    const form = queueOfIrqName(line.name);
    if (!form) continue;
    const owner = [...msi].find(([, irqs]) => irqs.has(line.irq))?.[0] ?? [...out.keys()].find((nic) => named(line.name, nic));
    if (!owner) continue;
    const text = affinity.get(`/proc/irq/${line.irq}/smp_affinity_list`)?.[0];
    out.get(owner)!.push({
      irq: line.irq,
      queue: line.name,
      ...form,
      affinity: text === undefined ? null : parseCpuListOrEmpty(text),
      counts: line.counts,
    });
  }
  for (const list of out.values()) list.sort((a, b) => a.irq - b.irq);
  return out;
}
