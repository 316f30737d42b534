// libvirt_domain timelines against a real private libvirtd inside a tier-1 lab host, through the
// real CLI. Domains are TCG (type='qemu'): /dev/kvm here cannot run a guest, and there is no
// /dev/vhost-net, so a domain with <driver name='vhost'/> is checked at define level only.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { canonicalXml } from '../../../modules/lib/domain-xml.js';
import { defineTcgDomain, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { fields, virshOn } from '../playbooks/virsh.js';
import { changesOn, labFacts, labFile, play } from '../play.js';

const lab = useLab({ hosts: 1 });
let libvirt: LabLibvirt | undefined;
// Seed 003's domain tuning with its own CPU numbers (playbooks/numa-pinning.yml computes them from
// facts instead; it runs in test/lab/playbooks/): every element the module patches, in one play.
const SEED003_DOMAIN = `# KVM domain tuning from the seeds, as one element-level patch of each domain's XML: only the
# elements below are touched; UUID, MACs, PCI addresses and metadata stay as they are.
#
# The defaults are seed 003's example: a 2-socket host (socket 0 = CPUs 0-9, socket 1 = 10-19),
# the NIC on NUMA node 0, a 9-vCPU guest pinned one-to-one to CPUs 1-9 (CPU 0 left to the host),
# the emulator and vhost-net threads on the other socket's 11-19. Override per host with
# \`-e @host-vars.yml\` (vm_name, vcpu_pins, emulator_cpus, numa_node, vm_vcpus, vm_nic_mac,
# vm_queues); a pin to a CPU the host lacks fails in check mode before anything changes.
- name: Domain CPU, memory, disk and NIC tuning (seeds 002, 003, 004)
  hosts: all
  vars:
    vm_name: vm1
    vm_vcpus: 9
    # Seed 003: vCPU N on host CPU N+1, all on the NIC's socket (seed 002: pin within one node).
    vcpu_pins: {0: "1", 1: "2", 2: "3", 3: "4", 4: "5", 5: "6", 6: "7", 7: "8", 8: "9"}
    emulator_cpus: "11-19"
    # Seed 003: /sys/class/net/ens1f0/device/numa_node of the guest's NIC.
    numa_node: "0"
    vm_nic_mac: "fa:9b:4d:23:e1:01"
    # Seed 003: 4 to 9 queues for 9 vCPUs; never more queues than vCPUs.
    vm_queues: 9
  tasks:
    - name: Pin, weigh and place the guest
      libvirt_domain:
        name: "{{ vm_name }}"
        vcpus: "{{ vm_vcpus }}"
        cputune:
          vcpupin: "{{ vcpu_pins }}"
          emulatorpin: "{{ emulator_cpus }}"
          # Seed 003 / seed 004 (\`virsh schedinfo cpu_shares=512\`): half the default weight.
          shares: 512
        # Seed 003 and 004: memory only from the pinned CPUs' node (restart needed).
        numatune: {mode: strict, nodeset: "{{ numa_node }}"}
        # Seed 004 / 003: back guest memory with huge pages. The host needs a hugepage pool
        # (vm.nr_hugepages or hugepagesz=1G hugepages=N on the kernel command line) or the
        # domain will not start; seed 003 notes it helps memory-bound guests, not the network.
        memory_backing: {hugepages: true}
        # Seed 003: expose the host CPU as is (on AMD with QEMU < 3.1 the seed prefers host-model).
        cpu: {mode: host-passthrough}
        # Seed 002: virtio disk with no host page cache and native AIO.
        disks:
          - match: {target: vda}
            driver: {cache: none, io: native}
        # Seed 004: \`virsh blkiotune --weight 100\` and \`virsh memtune --hard-limit\`.
        blkiotune: {weight: 100}
        memtune: {hard_limit: 2GiB}
        # Settings that need a cold restart are defined now and listed as pending.
        restart: never

    - name: Multi-queue vhost-net on the data NIC
      libvirt_domain:
        name: "{{ vm_name }}"
        interfaces:
          # Seed 003's vnic1.1: vhost, 9 queues, 256-entry rings.
          - match: {mac: "{{ vm_nic_mac }}"}
            model: virtio
            driver: {name: vhost, queues: "{{ vm_queues }}", rx_queue_size: 256, tx_queue_size: 256}
`;

const virsh = virshOn(lab, 'hv1');
const inactiveXml = virsh.inactiveXml;

beforeAll(async () => {
  libvirt = await startLibvirt(lab(), 'hv1');
  await defineTcgDomain(lab(), 'hv1', 'vm1');
  await defineTcgDomain(lab(), 'hv1', 'vm2', { mac: '52:54:00:12:34:57' });
  await defineTcgDomain(lab(), 'hv1', 'vm3', { mac: '52:54:00:12:34:58' });
  await virsh('start', 'vm2');
}, 120_000);
afterAll(async () => {
  await libvirt?.stop();
});

describe('seed 003 tuning on a shut-off domain', () => {
  // The seed's host has 40 CPUs; the lab host has 2, so the CPU lists are the host's vars.
  const labVars = () =>
    labFile(
      lab(),
      'vars.yml',
      [
        'vm_name: vm1',
        'vm_vcpus: 2',
        'vcpu_pins: {0: "1", 1: "0"}',
        'emulator_cpus: "0-1"',
        'numa_node: "0"',
        'vm_nic_mac: "52:54:00:12:34:56"',
        'vm_queues: 2',
        '',
      ].join('\n'),
    );
  // The play backs vm1 with huge pages bound strictly to node 0, which starts only with a pool
  // there (a cross-check says so, as an error); the lab host has none and tests never make one:
  // its facts are given with a 2 MiB pool of 128 MiB on node 0, the rest as gathered.
  let withPool = '';
  const poolFacts = async () =>
    (withPool ||= await labFacts(lab(), (f) => ({
      ...f,
      numa: {
        ...f.numa!,
        nodes: f.numa!.nodes.map((n) => (n.id === 0 ? { ...n, hugepages: { ...n.hugepages, '2048': { total: 64, free: 64 } } } : n)),
      },
    })));
  const run = async (check: boolean) =>
    play(lab(), SEED003_DOMAIN, { check, diff: true, args: ['-e', `@${labVars()}`, '--facts', await poolFacts()] });
  let original = '';

  test("with the seed's own CPU numbers, check mode fails naming the missing CPUs", async () => {
    original = await inactiveXml('vm1');
    const r = await play(lab(), SEED003_DOMAIN, { check: true });
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => f.message).join('\n')).toMatch(/vcpupin 0: CPU 1 is not online|is not online on this host/);
    expect(await inactiveXml('vm1')).toBe(original);
  });

  test('check shows the patch as a diff and changes nothing', async () => {
    const r = await run(true);
    expect(r.code, JSON.stringify([r.report.failures, r.report.crossChecks])).toBe(2);
    const changes = changesOn(r.report, 'hv1');
    expect(changes.map((c) => [c.target, c.effect])).toEqual([
      ['domain:vm1', 'persistent'],
      ['domain:vm1', 'persistent'],
    ]);
    expect(changes[0].diff).toContain("+    <emulatorpin cpuset='0-1'/>");
    expect(changes[1].diff).toContain("queues='2'");
    expect(await inactiveXml('vm1')).toBe(original);
  });

  test('apply: virsh shows the tuning; undeclared parts are unchanged', async () => {
    const r = await run(false);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changesOn(r.report, 'hv1')).toHaveLength(2);

    expect(await virsh('vcpupin', 'vm1', '--config')).toMatch(/^\s*0\s+1\s*$[\s\S]*^\s*1\s+0\s*$/m);
    expect(await virsh('emulatorpin', 'vm1', '--config')).toMatch(/^\s*(\*:\s+)?0-1\s*$/m);
    expect(fields(await virsh('schedinfo', 'vm1', '--config')).cpu_shares).toBe('512');
    expect(fields(await virsh('blkiotune', 'vm1', '--config')).weight).toBe('100');
    expect(fields(await virsh('memtune', 'vm1', '--config')).hard_limit).toBe('2097152');
    expect(fields(await virsh('numatune', 'vm1', '--config'))).toMatchObject({ numa_mode: 'strict', numa_nodeset: '0' });
    const xml = await inactiveXml('vm1');
    expect(xml).toContain('<hugepages/>');
    expect(xml).toMatch(/<cpu mode='host-passthrough'/);
    expect(xml).toMatch(/<driver name='qemu' type='qcow2' cache='none' io='native'\/>/);
    expect(xml).toMatch(/<driver name='vhost' queues='2' rx_queue_size='256' tx_queue_size='256'\/>/);

    // Every line of the old definition is still there, except the ones the playbook replaced.
    const replaced = new Set([
      "<cpu check='none' match='exact' mode='custom'>",
      "<model fallback='forbid'>qemu64</model>",
      '</cpu>',
      "<driver name='qemu' type='qcow2'/>",
    ]);
    const after = new Set(
      canonicalXml(xml)
        .split('\n')
        .map((l) => l.trim()),
    );
    const lost = canonicalXml(original)
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => !after.has(l) && !replaced.has(l));
    expect(lost).toEqual([]);
    expect(xml).toMatch(/<uuid>[0-9a-f-]{36}<\/uuid>/);
    expect(xml).toContain('<app:owner xmlns:app="http://example.org/app">lab</app:owner>');
  });

  test('a second run reports zero changes', async () => {
    const r = await run(false);
    expect(r.code).toBe(0);
    expect(changesOn(r.report, 'hv1')).toEqual([]);
  });

  test('drift by hand is found exactly, and apply brings it back', async () => {
    await virsh('schedinfo', 'vm1', '--config', '--set', 'cpu_shares=1024');
    const check = await run(true);
    expect(check.code).toBe(2);
    const changes = changesOn(check.report, 'hv1');
    expect(changes.map((c) => c.summary)).toEqual(['define vm1 with cputune/shares']);
    expect(changes[0].diff).toContain('-    <shares>1024</shares>');
    expect(changes[0].diff).toContain('+    <shares>512</shares>');
    expect((await run(false)).code).toBe(0);
    expect(fields(await virsh('schedinfo', 'vm1', '--config')).cpu_shares).toBe('512');
  });
});

// schedinfo/memtune/blkiotune --live need the cpu/memory/io cgroup controllers, which tier-1
// hosts do not mount ("cgroup CPU controller is not mounted"); pins use sched_setaffinity and work.
describe('a running TCG domain', () => {
  const tuning = `
- name: live tuning
  hosts: all
  tasks:
    - name: pin and weigh vm2
      libvirt_domain:
        name: vm2
        cputune: {vcpupin: {0: "1"}, emulatorpin: "0"}
        cpu: {mode: host-passthrough}
`;
  let domainId = '';

  test('live-applicable settings change without a restart; the CPU mode waits for one', async () => {
    domainId = (await virsh('domid', 'vm2')).trim();
    const check = await play(lab(), tuning, { check: true });
    expect(check.code).toBe(2);
    expect(changesOn(check.report, 'hv1').map((c) => [c.target, c.effect])).toEqual([
      ['domain:vm2', 'persistent'],
      ['domain:vm2/cputune/vcpupin[vcpu=0]@cpuset', 'live'],
      ['domain:vm2/cputune/emulatorpin@cpuset', 'live'],
    ]);

    const r = await play(lab(), tuning);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await virsh('domid', 'vm2')).trim()).toBe(domainId);
    expect(await virsh('vcpupin', 'vm2', '--live')).toMatch(/^\s*0\s+1\s*$/m);
    expect(await virsh('emulatorpin', 'vm2', '--live')).toMatch(/^\s*(\*:\s+)?0\s*$/m);
    expect(await virsh('dumpxml', 'vm2')).not.toContain("mode='host-passthrough'");
    expect(await inactiveXml('vm2')).toContain("mode='host-passthrough'");
    expect(r.report.recap.hv1.pending).toEqual([expect.objectContaining({ effect: 'vm-restart', target: 'domain:vm2' })]);
  });

  test('a second run reports zero changes and still lists the pending restart', async () => {
    const r = await play(lab(), tuning);
    expect(r.code).toBe(0);
    expect(changesOn(r.report, 'hv1')).toEqual([]);
    expect(r.report.recap.hv1.pending.map((p) => p.target)).toEqual(['domain:vm2']);
  });

  test('a live change made by hand is drift on the running domain only', async () => {
    await virsh('vcpupin', 'vm2', '0', '0-1', '--live');
    const check = await play(lab(), tuning, { check: true });
    expect(changesOn(check.report, 'hv1').map((c) => [c.target, c.before, c.after])).toEqual([
      ['domain:vm2/cputune/vcpupin[vcpu=0]@cpuset', '0-1', '1'],
    ]);
    expect((await play(lab(), tuning)).code).toBe(0);
    expect(await virsh('vcpupin', 'vm2', '--live')).toMatch(/^\s*0\s+1\s*$/m);
  });
});

// The rest of the domain XML (issue 18) on a shut-off domain: what libvirt keeps at define is real;
// starting it is not tried (a tier-1 host has no PCI passthrough, and macvtap needs a real NIC).
describe('guest NUMA, topology, Hyper-V, passthrough and macvtap interfaces on a shut-off domain', () => {
  const rest = `
- name: the rest of the domain XML
  hosts: all
  tasks:
    - name: a Windows-style guest with two NUMA cells, a VF and a macvtap NIC
      libvirt_domain:
        name: vm3
        vcpu_placement: {placement: static, cpuset: "0-1"}
        cputune: {period: 100000, quota: 50000}
        cpu:
          topology: {sockets: 1, cores: 1, threads: 2}
          numa: [{id: 0, cpus: "0", memory: 32MiB}, {id: 1, cpus: "1", memory: 32MiB}]
        numatune: {memnode: [{cellid: 0, mode: strict, nodeset: "0"}, {cellid: 1, mode: preferred, nodeset: "0"}]}
        features: {hyperv: {relaxed: true, vapic: true, spinlocks: 8191}}
        hostdevs: [{pci: "0000:3b:02.4"}]
        interfaces:
          - {match: {mac: "52:54:00:aa:00:01"}, type: direct, source: {dev: ens1f1, mode: bridge}}
          - {match: {mac: "52:54:00:aa:00:02"}, type: hostdev, source: {pci: "0000:3b:02.3"}, vlan: 100}
        disks: [{match: {target: vda}, bus: sata}]
`;
  let original = '';

  test('check shows one define and changes nothing', async () => {
    original = await inactiveXml('vm3');
    const r = await play(lab(), rest, { check: true, diff: true });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(changesOn(r.report, 'hv1').map((c) => [c.target, c.effect])).toEqual([['domain:vm3', 'persistent']]);
    expect(await inactiveXml('vm3')).toBe(original);
  });

  test('apply: libvirt keeps every element (hvtune reads each back), a second run changes nothing', async () => {
    const r = await play(lab(), rest);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const xml = canonicalXml(await inactiveXml('vm3'));
    for (const line of [
      "<vcpu cpuset='0-1' placement='static'>2</vcpu>",
      '<quota>50000</quota>',
      // libvirt adds dies='1' itself
      "<topology cores='1' dies='1' sockets='1' threads='2'/>",
      "<cell cpus='1' id='1' memory='32768' unit='KiB'/>",
      "<memnode cellid='0' mode='strict' nodeset='0'/>",
      "<spinlocks retries='8191' state='on'/>",
      "<interface type='direct'>",
      "<source dev='ens1f1' mode='bridge'/>",
      "<interface managed='yes' type='hostdev'>",
      "<tag id='100'/>",
      "<target bus='sata' dev='vda'/>",
    ]) {
      expect(xml, `${line} in\n${xml}`).toContain(line);
    }
    expect(fields(await virsh('schedinfo', 'vm3', '--config'))).toMatchObject({ vcpu_period: '100000', vcpu_quota: '50000' });
    const again = await play(lab(), rest);
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });

  test('cells that do not add up to the memory: check fails with the numbers, nothing changes', async () => {
    const before = await inactiveXml('vm3');
    const bad = rest.replace('{id: 1, cpus: "1", memory: 32MiB}', '{id: 1, cpus: "1", memory: 16MiB}');
    const r = await play(lab(), bad, { check: true });
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => f.message).join('\n')).toContain(
      'vm3: cpu numa: the cells hold 49152 KiB but the domain has 65536 KiB of memory',
    );
    expect(await inactiveXml('vm3')).toBe(before);
  });

  test('coalescing on an interface libvirt cannot coalesce: hvtune says so before virsh does', async () => {
    const r = await play(
      lab(),
      rest.replace('        interfaces:\n', '        interfaces:\n          - {match: {index: 0}, coalesce: {rx_frames: 32}}\n'),
      {
        check: true,
      },
    );
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => f.message).join('\n')).toContain(
      'vm3: interface[0]: coalesce works on interfaces of type network or bridge, not ethernet',
    );
  });
});
