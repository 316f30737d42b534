// NIC queue IRQs found by MSI vector and queue name, on /proc/interrupts as virtio-net, i40e and
// mlx5 print it (recorded lines), with the gatherer's own sections.

import { describe, expect, it } from 'vitest';
import { parseFacts } from '../../../src/facts.js';
import { parseNicQueueIrqs, queueOfIrqName } from '../../../src/facts/irq.js';
import { parseRaw } from '../../../src/facts/sections.js';
import { checkSchema } from '../../../src/schema.js';
import { factsSchema } from '../../../src/schemas/facts.js';

const gathered = (sections: Record<string, string[]>) =>
  Object.entries(sections)
    .flatMap(([name, lines]) => [`@@hvtune:${name}`, ...lines])
    .join('\n');

describe('queue names', () => {
  it('knows the forms drivers give their queue vectors', () => {
    expect(queueOfIrqName('virtio0-input.3')).toEqual({ kind: 'rx', index: 3 });
    expect(queueOfIrqName('virtio0-output.0')).toEqual({ kind: 'tx', index: 0 });
    expect(queueOfIrqName('i40e-ens1f0-TxRx-12')).toEqual({ kind: 'combined', index: 12 });
    expect(queueOfIrqName('ens1f0-TxRx-3')).toEqual({ kind: 'combined', index: 3 });
    expect(queueOfIrqName('mlx5_comp7@pci:0000:41:00.0')).toEqual({ kind: 'combined', index: 7 });
    expect(queueOfIrqName('eno1-rx-1')).toEqual({ kind: 'rx', index: 1 });
    expect(queueOfIrqName('eno1-tx-0')).toEqual({ kind: 'tx', index: 0 });
  });

  it('leaves out the vectors that are no queue', () => {
    for (const name of ['virtio0-config', 'i40e-0000:3b:00.0:misc', 'mlx5_async0@pci:0000:41:00.0', 'ens1f0', 'virtio1-virtqueues'])
      expect(queueOfIrqName(name), name).toBeNull();
  });
});

describe('queue IRQs per NIC', () => {
  const ixgbeAndMlx = gathered({
    'msi-irqs': ['ens1f0 60', 'ens1f0 61', 'ens1f0 62', 'ens1f0 63', 'enp65s0f0np0 90', 'enp65s0f0np0 91', 'enp65s0f0np0 92'],
    interrupts: [
      '            CPU0       CPU1       CPU2       CPU3       ',
      '  60:       1200          0          0          0  IR-PCI-MSI 1048576-edge      ens1f0-TxRx-0',
      '  61:          0       3400          0          0  IR-PCI-MSI 1048577-edge      ens1f0-TxRx-1',
      '  62:          0          0         50          7  IR-PCI-MSI 1048578-edge      ens1f0-TxRx-2',
      '  63:          1          0          0          0  IR-PCI-MSI 1048579-edge      ens1f0',
      '  90:          3          0          0          0  IR-PCI-MSIX-0000:41:00.0    0-edge      mlx5_async0@pci:0000:41:00.0',
      '  91:         10         20         30         40  IR-PCI-MSIX-0000:41:00.0    1-edge      mlx5_comp0@pci:0000:41:00.0',
      '  92:          0          0          0          9  IR-PCI-MSIX-0000:41:00.0    2-edge      mlx5_comp1@pci:0000:41:00.0',
      '  95:         99          0          0          0  IR-PCI-MSI 524288-edge      ens1f0-TxRx-9',
    ],
    'irq-affinity': ['/proc/irq/60/smp_affinity_list:0', '/proc/irq/61/smp_affinity_list:1', '/proc/irq/62/smp_affinity_list:2-3'],
  });
  const irqs = parseNicQueueIrqs(parseRaw(ixgbeAndMlx));

  it('takes a NIC’s queues, by vector and name, with affinity and per-CPU counts', () => {
    expect(irqs.get('ens1f0')).toEqual([
      { irq: 60, queue: 'ens1f0-TxRx-0', kind: 'combined', index: 0, affinity: [0], counts: [1200, 0, 0, 0] },
      { irq: 61, queue: 'ens1f0-TxRx-1', kind: 'combined', index: 1, affinity: [1], counts: [0, 3400, 0, 0] },
      { irq: 62, queue: 'ens1f0-TxRx-2', kind: 'combined', index: 2, affinity: [2, 3], counts: [0, 0, 50, 7] },
      // Not one of its MSI vectors, but named after it (a legacy or shared vector): still its queue.
      { irq: 95, queue: 'ens1f0-TxRx-9', kind: 'combined', index: 9, affinity: null, counts: [99, 0, 0, 0] },
    ]);
    expect(irqs.get('enp65s0f0np0')!.map((q) => [q.irq, q.queue, q.index])).toEqual([
      [91, 'mlx5_comp0@pci:0000:41:00.0', 0],
      [92, 'mlx5_comp1@pci:0000:41:00.0', 1],
    ]);
  });

  it('indexes counts by CPU number when CPUs are offline', () => {
    const text = gathered({
      'msi-irqs': ['eth0 38'],
      interrupts: ['           CPU0       CPU2', ' 38:        5        7   PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0'],
    });
    expect(parseNicQueueIrqs(parseRaw(text)).get('eth0')![0].counts).toEqual([5, 0, 7]);
  });

  it('gives a NIC whose vectors carry no queue name an empty list, and facts conform to the schema', () => {
    const facts = parseFacts(
      gathered({
        files: ['/proc/sys/kernel/hostname:h', '/proc/sys/kernel/osrelease:6.1.0'],
        links: [
          'lrwxrwxrwx 1 root root 0 Nov 30 13:14 /sys/class/net/ens1f0 -> ../../devices/pci0000:00/0000:00:02.0/0000:3b:00.0/net/ens1f0',
          'lrwxrwxrwx 1 root root 0 Nov 30 13:14 /sys/class/net/ens1f0/device -> ../../../0000:3b:00.0',
          'lrwxrwxrwx 1 root root 0 Nov 30 13:14 /sys/class/net/ens1f1 -> ../../devices/pci0000:00/0000:00:02.0/0000:3b:00.1/net/ens1f1',
          'lrwxrwxrwx 1 root root 0 Nov 30 13:14 /sys/class/net/ens1f1/device -> ../../../0000:3b:00.1',
          'lrwxrwxrwx 1 root root 0 Nov 30 13:14 /sys/class/net/veth0 -> ../../devices/virtual/net/veth0',
        ],
        'msi-irqs': ['ens1f0 60', 'ens1f0 61', 'ens1f1 70'],
        interrupts: [
          '            CPU0       CPU1',
          '  60:       1200          0  IR-PCI-MSI 1048576-edge      ens1f0-TxRx-0',
          '  61:          0       3400  IR-PCI-MSI 1048577-edge      ens1f0-TxRx-1',
          '  70:          0          1  IR-PCI-MSI 1048578-edge      ens1f1',
        ],
      }),
    );
    const nic = (name: string) => facts.nics!.find((n) => n.name === name)!;
    expect(nic('ens1f0').irq!.map((q) => q.queue)).toEqual(['ens1f0-TxRx-0', 'ens1f0-TxRx-1']);
    expect(nic('ens1f1').irq).toEqual([]);
    expect(nic('veth0').irq).toBeNull();
    expect(checkSchema(factsSchema, facts)).toEqual([]);
  });
});
