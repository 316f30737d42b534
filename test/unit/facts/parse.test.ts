// Parsers on real gatherer output captured on lab machines (test/fixtures/facts/*.txt), junk
// lines included, and on the edge cases of each topic.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFacts } from '../../../src/facts.js';
import { parseChannels, parseRing, parseVirtioInterrupts } from '../../../src/facts/nics.js';
import { parseRaw } from '../../../src/facts/sections.js';
import { parseBoot, parseOsRelease } from '../../../src/facts/system.js';
import { hypervisorFromDmi, parseDomstats, parseVirt } from '../../../src/facts/virt.js';

const captured = (name: string) => readFileSync(new URL(`../../fixtures/facts/${name}`, import.meta.url), 'utf8');

describe('a virtio guest (captured on the lab machine itself)', () => {
  const f = parseFacts(captured('vm-virtio-guest.txt'));

  it('finds the virtio NIC with its PCI function, driver, rings, channels and queue interrupts', () => {
    expect(f.nics!.find((n) => n.name === 'eth0')).toMatchObject({
      driver: 'virtio_net',
      pci: '0000:00:03.0',
      virtio: 'virtio2',
      virtual: false,
      numaNode: null,
      speedMbps: null,
      rxQueues: 1,
      ring: { rxMax: 256, txMax: 256, rx: 256, tx: 256 },
      channels: { maxCombined: 1, combined: 1, maxRx: null },
    });
    expect(f.nics!.find((n) => n.name === 'eth0')!.interrupts!.input).toHaveLength(1);
    // Captured before MSI vectors were gathered: the queues are found by the virtio device's name.
    expect(f.nics!.find((n) => n.name === 'eth0')!.irq).toEqual([
      { irq: 38, queue: 'virtio2-input.0', kind: 'rx', index: 0, affinity: null, counts: [0, 5164] },
      { irq: 39, queue: 'virtio2-output.0', kind: 'tx', index: 0, affinity: null, counts: [4114, 0] },
    ]);
  });

  it('is a guest of KVM with THP, hugepage pools and no NUMA locality', () => {
    expect(f.virt!.hypervisor).toBe('kvm');
    expect(f.virt!.roles).toContain('guest');
    expect(f.memory!.thp!.enabledChoices).toEqual(['always', 'madvise', 'never']);
    expect(f.memory!.hugepages.pools.map((p) => p.sizeKiB)).toEqual([2048, 1048576]);
    expect(f.cpu!.threads.length).toBe(f.cpu!.online.length);
    expect(f.numa!.nodes[0].cpus).toEqual(f.cpu!.online);
  });
});

describe('a tier-1 lab host with libvirtd and one defined domain (captured over ssh)', () => {
  const f = parseFacts(captured('lab-tier1-libvirt.txt'));

  it('reads hostname, kernel, distribution and the veth', () => {
    expect(f.hostname).toBe('hv2');
    expect(f.kernel.version[0]).toBe(6);
    expect(f.distribution).toEqual({ id: 'debian', version: '12', name: 'Debian GNU/Linux 12 (bookworm)', like: [] });
    expect(f.nics!.map((n) => n.name)).toEqual(['eth0', 'lo']);
    expect(f.nics![0]).toMatchObject({ virtual: true, driver: null, ring: null, channels: null });
  });

  it('lists the domain from domstats', () => {
    expect(f.domains).toEqual([{ name: 'facts-vm1', state: 'shut off', vcpus: 3, maxVcpus: 3, memoryKiB: 98304, maxMemoryKiB: 98304 }]);
    expect(f.virt!.kvm).toEqual({ device: true, virsh: true, libvirtd: true });
    expect(f.init!.system).toBe('other');
  });
});

describe('defensive parsing', () => {
  const text = captured('lab-tier1-libvirt.txt');

  it('ignores a banner before the first section and junk lines inside sections', () => {
    const junky =
      'Welcome to hv2!\nLast login: yesterday\n' +
      text
        .replace('@@hvtune:links\n', "@@hvtune:links\nls: cannot access '/sys/class/net/*/device': No such file or directory\ntotal 0\n")
        .replace('@@hvtune:queues\n', '@@hvtune:queues\nnot a path\n/sys/class/net/eth0/queues/byte_queue_limits\n')
        .replace('@@hvtune:files\n', '@@hvtune:files\nno colon here\nrelative:path\n');
    expect(parseFacts(junky)).toEqual(parseFacts(text));
  });

  it('survives output cut short and CRLF line ends', () => {
    const cut = text.slice(0, text.indexOf('@@hvtune:cpuinfo'));
    const f = parseFacts(cut.replace(/\n/g, '\r\n'));
    expect(f.hostname).toBe('hv2');
    expect(f.cpu!.vendor).toBe('');
    // NICs known from their sysfs files only: no queue listing arrived.
    expect(f.nics!.map((n) => [n.name, n.rxQueues])).toEqual([
      ['eth0', 0],
      ['lo', 0],
    ]);
    expect(f.domains).toBeNull();
  });

  it('gives empty facts, not an exception, for empty output', () => {
    const f = parseFacts('');
    expect(f.hostname).toBe('');
    expect(f.kernel.version).toEqual([0, 0, 0]);
    expect(f.cpu!.threads).toEqual([]);
    expect(f.numa!.nodes).toEqual([]);
  });

  it('treats a topology file with junk as unknown: the CPU is its own core', () => {
    const f = parseFacts(
      '@@hvtune:files\n/sys/devices/system/cpu/online:0-1\n/sys/devices/system/cpu/cpu0/topology/thread_siblings_list:garbage\n/sys/devices/system/cpu/cpu1/topology/physical_package_id:-1\n',
    );
    expect(f.cpu!.threads).toEqual([
      { id: 0, core: 0, socket: 0, node: 0, siblings: [0] },
      { id: 1, core: 1, socket: 0, node: 0, siblings: [1] },
    ]);
  });
});

describe('ethtool output', () => {
  it('reads ring maxima with n/a fields', () => {
    const out = [
      'Ring parameters for ens1f0:',
      'Pre-set maximums:',
      'RX:\t\t4096',
      'RX Mini:\tn/a',
      'RX Jumbo:\tn/a',
      'TX:\t\t4096',
      'Current hardware settings:',
      'RX:\t\t512',
      'RX Mini:\tn/a',
      'RX Jumbo:\tn/a',
      'TX:\t\t512',
    ];
    expect(parseRing(out)).toEqual({ rxMax: 4096, txMax: 4096, rx: 512, tx: 512 });
  });

  it.each([[['netlink error: Operation not supported']], [['Cannot get device ring settings: Operation not supported']], [[]]])(
    'answers null when the driver does not support it: %j',
    (out) => {
      expect(parseRing(out)).toBeNull();
      expect(parseChannels(out)).toBeNull();
    },
  );
});

describe('virtio queue interrupts (seed 001: verify in /proc/interrupts)', () => {
  it('sums each queue over CPUs and says which CPUs served it', () => {
    const lines = [
      '            CPU0       CPU1       CPU2       CPU3       ',
      ' 24:          0          0          0          0   PCI-MSI 49152-edge      virtio0-config',
      ' 25:       1520          0          0          3   PCI-MSI 49153-edge      virtio0-input.0',
      ' 26:          1          0          0          0   PCI-MSI 49154-edge      virtio0-output.0',
      ' 27:          0        870          0          0   PCI-MSI 49155-edge      virtio0-input.1',
      ' 28:          0          2          0          0   PCI-MSI 49156-edge      virtio0-output.1',
      ' 29:          5          0          0          0   PCI-MSI 49157-edge      virtio1-input.0',
      'junk',
    ];
    const irq = parseVirtioInterrupts(lines);
    expect(irq.get('virtio0')).toEqual({ input: [1523, 870], output: [1, 2], inputCpus: [[0, 3], [1]] });
    expect(irq.get('virtio1')).toEqual({ input: [5], output: [], inputCpus: [[0]] });
  });
});

describe('boot tool', () => {
  const boot = (text: string, commands: string[], exists: string[]) => parseBoot(parseRaw(text), new Set(commands), new Set(exists));

  it.each([
    [
      'Debian',
      '',
      ['update-grub', 'grub-mkconfig'],
      ['/boot/grub/grub.cfg'],
      { tool: 'update-grub', firmware: 'bios', grubConfig: '/boot/grub/grub.cfg', bls: false },
    ],
    [
      'RHEL 9 UEFI with BLS',
      '@@hvtune:files\n/etc/default/grub:GRUB_ENABLE_BLSCFG=true\n@@hvtune:efi-grub\n/boot/efi/EFI/redhat/grub.cfg:1\n',
      ['grubby', 'grub2-mkconfig'],
      ['/sys/firmware/efi', '/boot/loader/entries'],
      { tool: 'grubby', firmware: 'uefi', grubConfig: null, bls: true },
    ],
    [
      'CentOS 7 UEFI',
      '@@hvtune:efi-grub\n/boot/efi/EFI/centos/grub.cfg:0\n',
      ['grub2-mkconfig'],
      ['/sys/firmware/efi'],
      { tool: 'grub2-mkconfig', firmware: 'uefi', grubConfig: '/boot/efi/EFI/centos/grub.cfg', bls: false },
    ],
    [
      'UEFI stub only',
      '@@hvtune:efi-grub\n/boot/efi/EFI/rocky/grub.cfg:1\n',
      ['grub2-mkconfig'],
      ['/sys/firmware/efi'],
      { tool: 'grub2-mkconfig', firmware: 'uefi', grubConfig: '/boot/grub2/grub.cfg', bls: false },
    ],
    [
      'CentOS 7 BIOS',
      '',
      ['grub2-mkconfig', 'grubby'],
      [],
      { tool: 'grub2-mkconfig', firmware: 'bios', grubConfig: '/boot/grub2/grub.cfg', bls: false },
    ],
    ['container', '', [], [], { tool: 'none', firmware: 'bios', grubConfig: null, bls: false }],
  ])('%s', (_name, text, commands, exists, expected) => {
    expect(boot(text, commands, exists)).toEqual(expected);
  });
});

describe('virtualisation role', () => {
  const virt = (text: string, commands: string[] = [], exists: string[] = [], hypervisorFlag = false) =>
    parseVirt(parseRaw(text), new Set(commands), new Set(exists), hypervisorFlag);

  it('Xen dom0 from /proc/xen/capabilities, not a guest', () => {
    expect(virt('@@hvtune:files\n/proc/xen/capabilities:control_d\n/sys/hypervisor/type:xen\n', ['xe'], [], true)).toMatchObject({
      role: 'xen-dom0',
      roles: ['xen-dom0'],
      hypervisor: null,
    });
  });

  it('a VMware guest from DMI when systemd-detect-virt is absent', () => {
    expect(
      virt('@@hvtune:files\n/sys/class/dmi/id/sys_vendor:VMware, Inc.\n/sys/class/dmi/id/product_name:VMware Virtual Platform\n'),
    ).toMatchObject({ role: 'guest', hypervisor: 'vmware' });
  });

  it('systemd-detect-virt "none" wins over a hypervisor flag', () => {
    expect(virt('@@hvtune:detect-virt\nnone\n', ['systemd-detect-virt'], [], true)).toMatchObject({ role: 'bare-metal', hypervisor: null });
  });

  it('Microsoft hardware is not Hyper-V', () => {
    expect(hypervisorFromDmi('Microsoft Corporation', 'Surface Pro')).toBeNull();
    expect(hypervisorFromDmi('Microsoft Corporation', 'Virtual Machine')).toBe('microsoft');
  });

  it('a KVM host needs /dev/kvm and libvirt', () => {
    expect(virt('', ['virsh'], ['/dev/kvm']).role).toBe('kvm-host');
    expect(virt('', [], ['/dev/kvm']).role).toBe('bare-metal');
  });
});

describe('libvirt domains', () => {
  it('null when virsh timed out or could not connect', () => {
    expect(parseDomstats(['exit=124'])).toBeNull();
    expect(parseDomstats(['error: failed to connect to the hypervisor', 'exit=1'])).toBeNull();
    expect(parseDomstats(undefined)).toBeNull();
  });

  it('[] when libvirt answers with no domains', () => expect(parseDomstats(['exit=0'])).toEqual([]));

  it('running and paused domains, names with spaces and quotes', () => {
    const out = [
      "Domain: 'web 1'",
      '  state.state=1',
      '  vcpu.current=2',
      '  vcpu.maximum=4',
      '  balloon.current=2097152',
      '  balloon.maximum=4194304',
      '',
      "Domain: 'db's'",
      '  state.state=3',
      'exit=0',
    ];
    expect(parseDomstats(out)).toEqual([
      { name: 'web 1', state: 'running', vcpus: 2, maxVcpus: 4, memoryKiB: 2097152, maxMemoryKiB: 4194304 },
      { name: "db's", state: 'paused', vcpus: null, maxVcpus: null, memoryKiB: null, maxMemoryKiB: null },
    ]);
  });
});

it('os-release values lose their quotes', () => {
  expect(
    parseOsRelease(['ID="rhel"', 'VERSION_ID="9.3"', 'ID_LIKE="fedora"', 'NAME="Red Hat \\"Enterprise\\" Linux"', '# comment']),
  ).toEqual({
    id: 'rhel',
    version: '9.3',
    name: 'Red Hat "Enterprise" Linux',
    like: ['fedora'],
  });
});
