// playbooks/numa-pinning.yml on a lab host with a private libvirtd and TCG domains, through the
// real CLI. First on the lab host's own facts, its topology named as 2 CPUs on one node (the
// machine running the suite may have more): a full timeline. Then with the
// recorded facts of seed 003's machine (`--facts`), the plan a user would preview offline: the
// lab host lacks CPUs 2-39, and the module checks pins against the CPUs the host really has, so
// check mode first fails naming a missing CPU; with the host's CPU and node lists shadowed to
// the seed machine's (0-39, nodes 0-1), the same check shows the computed pins in the diff.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineTcgDomain, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { fields, virshOn } from './virsh.js';
import { changesOn, labFacts, labFile, play } from '../play.js';
import type { Facts } from '../../../src/facts.js';

const lab = useLab({ hosts: 1 });
let libvirt: LabLibvirt | undefined;
const playbook = readFileSync(new URL('../../../playbooks/numa-pinning.yml', import.meta.url), 'utf8');
const seed003 = JSON.parse(readFileSync(new URL('../../fixtures/facts/seed003-2s10c-ht.json', import.meta.url), 'utf8')).hosts[
  'zs-compute1'
];

/** The lab host's facts with two CPUs (0 and 1, one core each) on one node, 0. */
const twoCpusOneNode = (f: Facts): Facts => {
  const thread = (id: number) => ({ id, core: id, socket: 0, node: 0, siblings: [id] });
  const node0 = f.numa?.nodes[0];
  return {
    ...f,
    cpu: {
      ...f.cpu!,
      sockets: 1,
      coresPerSocket: 2,
      threadsPerCore: 1,
      hyperThreading: false,
      online: [0, 1],
      threads: [thread(0), thread(1)],
    },
    numa: { nodes: [{ id: 0, memTotalKiB: null, memFreeKiB: null, distances: [10], hugepages: {}, ...node0, cpus: [0, 1] }] },
  };
};

const virsh = virshOn(lab, 'hv1');
const inactiveXml = virsh.inactiveXml;

beforeAll(async () => {
  libvirt = await startLibvirt(lab(), 'hv1');
  await defineTcgDomain(lab(), 'hv1', 'small', { vcpus: 1 });
  await defineTcgDomain(lab(), 'hv1', 'vm1', { vcpus: 9, mac: '52:54:00:12:34:59' });
}, 120_000);
afterAll(async () => {
  await libvirt?.stop();
});

describe("on the lab host's own facts, as 2 CPUs on one node (NIC eth0)", () => {
  // a veth has no queue interrupts, and /proc/irq is the machine's own: irq_affinity is the VM tier's
  const args = ['-e', 'vm_name=small', '-e', 'vm_vcpus=1', '-e', 'vm_nic=eth0', '-e', 'nic_irq_affinity=false'];
  let facts = '';
  beforeAll(async () => {
    facts = await labFacts(lab(), twoCpusOneNode);
  });
  const run = (check: boolean) => play(lab(), playbook, { check, diff: true, args: [...args, '--facts', facts] });

  test('check computes vCPU 0 on CPU 1 (CPU 0 left to the host), the emulator on CPU 0, memory on node 0', async () => {
    const before = await inactiveXml('small');
    const r = await run(true);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const [change] = changesOn(r.report, 'hv1');
    expect(change.diff).toContain("+    <vcpupin cpuset='1' vcpu='0'/>");
    expect(change.diff).toContain("+    <emulatorpin cpuset='0'/>");
    expect(change.diff).toContain("+    <memory mode='strict' nodeset='0'/>");
    expect(await inactiveXml('small')).toBe(before);
  });

  test('apply: virsh shows the pins; a second run changes nothing', async () => {
    const r = await run(false);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await virsh('vcpupin', 'small', '--config')).toMatch(/^\s*0\s+1\s*$/m);
    expect(await virsh('emulatorpin', 'small', '--config')).toMatch(/^\s*(\*:\s+)?0\s*$/m);
    expect(fields(await virsh('numatune', 'small', '--config'))).toMatchObject({ numa_mode: 'strict', numa_nodeset: '0' });
    const again = await run(false);
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });

  test('a pin changed by hand is found and put back', async () => {
    await virsh('vcpupin', 'small', '0', '0', '--config');
    const check = await run(true);
    expect(check.code).toBe(2);
    expect(changesOn(check.report, 'hv1').map((c) => c.diff)).toEqual([
      expect.stringContaining("-    <vcpupin cpuset='0' vcpu='0'/>\n+    <vcpupin cpuset='1' vcpu='0'/>"),
    ]);
    expect((await run(false)).code).toBe(0);
    expect(await virsh('vcpupin', 'small', '--config')).toMatch(/^\s*0\s+1\s*$/m);
  });
});

describe("with the recorded facts of seed 003's machine (2 sockets x 10 cores, HT on, ens1f0 on node 0)", () => {
  const factsFile = () => labFile(lab(), 'facts.json', JSON.stringify({ format: 'hvtune-facts', version: 1, hosts: { hv1: seed003 } }));
  // the lab host has no ens1f0 to place interrupts of
  const check = () => play(lab(), playbook, { check: true, diff: true, args: ['--facts', factsFile(), '-e', 'nic_irq_affinity=false'] });

  test('the real host lacks those CPUs: check fails naming one, and changes nothing', async () => {
    // The host presents CPUs 0-1, whatever the machine running the suite has.
    await lab().shadow('hv1', '/sys/devices/system/cpu/online', '0-1\n');
    const before = await inactiveXml('vm1');
    const r = await check();
    expect(r.code).toBe(1);
    // vCPU 0 → CPU 1 exists on the lab host; vCPU 1 → CPU 2 is the first pin it lacks.
    expect(r.report.failures.map((f) => f.message).join('\n')).toContain('vcpupin 1: CPU 2 is not online on this host (online CPUs: 0-1)');
    expect(await inactiveXml('vm1')).toBe(before);
  });

  test('on a host that presents those CPUs and nodes, the diff shows vCPUs on 1-9 and the emulator on 11-19', async () => {
    await lab().shadow('hv1', '/sys/devices/system/cpu/online', '0-39\n');
    await lab().shadow('hv1', '/sys/devices/system/node/online', '0-1\n');
    const before = await inactiveXml('vm1');
    const r = await check();
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const changes = changesOn(r.report, 'hv1');
    expect(changes).toHaveLength(1);
    const diff = changes[0].diff ?? '';
    const pins = [...diff.matchAll(/^\+\s*<vcpupin cpuset='([^']+)' vcpu='(\d+)'\/>$/gm)].map((m) => [m[2], m[1]]);
    expect(pins).toEqual([
      ['0', '1'],
      ['1', '2'],
      ['2', '3'],
      ['3', '4'],
      ['4', '5'],
      ['5', '6'],
      ['6', '7'],
      ['7', '8'],
      ['8', '9'],
    ]);
    expect(diff).toContain("+    <emulatorpin cpuset='11-19'/>");
    expect(diff).toContain("+    <memory mode='strict' nodeset='0'/>");
    expect(await inactiveXml('vm1')).toBe(before);
  });
});
