// The values the other playbooks compute from facts, rendered with recorded machines: what each
// play would ask of a host, before anything is read from it.

import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts.js';
import { recorded } from '../topology/load.js';
import { loadProjectPlaybook, renderPlay, taskArgs } from './render.js';

const seed003 = recorded('seed003-2s10c-ht');
const epyc = recorded('amd-epyc-nps4');
/** seed 003's machine with a CPU that lacks 1 GiB pages (an older Xeon or a guest CPU model). */
const no1g: Facts = { ...seed003, cpu: { ...seed003.cpu!, features: { ...seed003.cpu!.features, pdpe1gb: false } } };
/** A 2-vCPU AMD EPYC cloud VM without 1 GiB pages: the kind of machine CI may run on. */
const epycNo1g = recorded('amd-epyc-vm-no1g');
const ran = (tasks: { name: string; args: unknown[] }[]) => tasks.filter((t) => t.args.length).map((t) => t.name);

describe('playbooks/hugepages.yml', () => {
  it('1 GiB pages where the CPU has pdpe1gb: a boot-time pool of one page per GiB on each of the two nodes, a 1G mount, memoryBacking', async () => {
    const tasks = renderPlay(await loadProjectPlaybook('hugepages.yml'), 0, seed003, {
      guest_memory_gib: 32,
      hugepage_vms: ['vm1', 'vm2'],
    });
    expect(ran(tasks)).toEqual(['1 GiB pages reserved at boot', 'hugetlbfs mount of 1 GiB pages', 'guest memory backed by huge pages']);
    expect(taskArgs(tasks, '1 GiB pages reserved at boot').present).toEqual(['default_hugepagesz=1G', 'hugepagesz=1G', 'hugepages=64']);
    expect(taskArgs(tasks, 'hugetlbfs mount of 1 GiB pages').opts).toBe('pagesize=1G,mode=1770,gid=kvm');
    expect(tasks.find((t) => t.name === 'guest memory backed by huge pages')!.args).toEqual([
      { name: 'vm1', memory_backing: { hugepages: true }, restart: 'never' },
      { name: 'vm2', memory_backing: { hugepages: true }, restart: 'never' },
    ]);
  });

  it('without pdpe1gb: 2 MiB pages through vm.nr_hugepages, 512 per GiB on each of the two nodes, and no 1G boot pool or mount', async () => {
    const tasks = renderPlay(await loadProjectPlaybook('hugepages.yml'), 0, no1g);
    expect(ran(tasks)).toEqual(['2 MiB pages where the CPU has no 1 GiB pages', 'guest memory backed by huge pages']);
    expect(taskArgs(tasks, '2 MiB pages where the CPU has no 1 GiB pages').values).toEqual({ 'vm.nr_hugepages': 16384 });
  });
});

// Every hardware branch on every machine the suite may run on: the expectation comes from the
// recorded machine, never from the one running the test.
describe.each([
  { machine: 'Intel with 1 GiB pages (seed 003)', facts: seed003, amd: false, pages1g: true },
  { machine: 'Intel without 1 GiB pages', facts: no1g, amd: false, pages1g: false },
  { machine: 'AMD with 1 GiB pages (EPYC, NPS4)', facts: epyc, amd: true, pages1g: true },
  { machine: 'AMD without 1 GiB pages (EPYC cloud VM)', facts: epycNo1g, amd: true, pages1g: false },
])('on $machine', ({ facts, amd, pages1g }) => {
  it(`hugepages.yml takes the ${pages1g ? '1 GiB' : '2 MiB'} path`, async () => {
    const tasks = ran(renderPlay(await loadProjectPlaybook('hugepages.yml'), 0, facts, { guest_memory_gib: 4 }));
    expect(tasks).toEqual(
      pages1g
        ? ['1 GiB pages reserved at boot', 'hugetlbfs mount of 1 GiB pages', 'guest memory backed by huge pages']
        : ['2 MiB pages where the CPU has no 1 GiB pages', 'guest memory backed by huge pages'],
    );
  });

  it(`kvm-host-network.yml ${amd ? 'plans' : 'skips'} AVIC`, async () => {
    const tasks = ran(
      renderPlay(await loadProjectPlaybook('kvm-host-network.yml'), 0, facts, { host_nic: 'eth0', nic_irq_affinity: false }),
    );
    expect(tasks.includes('AVIC on AMD hosts')).toBe(amd);
  });
});

describe('playbooks/kvm-host-network.yml', () => {
  it('kvm_amd avic=1 only on AMD hosts', async () => {
    const playbook = await loadProjectPlaybook('kvm-host-network.yml');
    expect(ran(renderPlay(playbook, 0, seed003))).not.toContain('AVIC on AMD hosts');
    const amd = renderPlay(playbook, 0, epyc, { host_nic: 'enp65s0f0np0' });
    expect(taskArgs(amd, 'AVIC on AMD hosts')).toEqual({ module: 'kvm_amd', options: { avic: 1 }, file: 'kvm', reload: 'never' });
  });

  it('conntrack hashsize = max / 4; mitigations stay on and bridge filtering on unless asked', async () => {
    const playbook = await loadProjectPlaybook('kvm-host-network.yml');
    const tasks = renderPlay(playbook, 0, seed003, { conntrack_max: 1000000 });
    expect(taskArgs(tasks, 'Conntrack hash table, at the next module load').options).toEqual({ hashsize: 250000 });
    expect(ran(tasks)).not.toContain('CPU vulnerability mitigations off (opt-in)');
    expect(ran(tasks)).not.toContain('Bridged traffic skips iptables');
    expect(ran(tasks)).not.toContain('SR-IOV virtual functions on the NIC');
    const seedChoices = renderPlay(playbook, 0, seed003, { guest_firewall: false, trade_security_for_speed: true, sriov_vfs: 7 });
    expect(ran(seedChoices)).toContain('Bridged traffic skips iptables');
    expect(taskArgs(seedChoices, 'SR-IOV virtual functions on the NIC')).toEqual({ device: 'ens1f0', numvfs: 7 });
    expect(taskArgs(seedChoices, 'CPU vulnerability mitigations off (opt-in)').present).toEqual(['mitigations=off']);
  });
});

describe('playbooks/virtio-multiqueue.yml', () => {
  it('host: queues = vCPUs, within the limit', async () => {
    const playbook = await loadProjectPlaybook('virtio-multiqueue.yml');
    const queues = (extra: Record<string, unknown>) =>
      taskArgs(renderPlay(playbook, 0, seed003, extra), 'vhost-net with one queue per vCPU').interfaces[0].driver.queues;
    expect(queues({})).toBe(9);
    expect(queues({ vm_vcpus: 48, max_queues: 8 })).toBe(8);
  });

  it('guest: every queue the host gave, xps one vCPU per tx queue', async () => {
    const playbook = await loadProjectPlaybook('virtio-multiqueue.yml');
    expect(playbook.plays.map((p) => p.hosts)).toEqual(['kvm_hosts', 'guests']);
    const args = taskArgs(renderPlay(playbook, 1, seed003), 'use every queue the host gave, one vCPU per tx queue');
    expect(args).toEqual({ device: 'ens3', channels: { combined: 'max' }, xps: { 0: '0', 1: '1', 2: '2', 3: '3' }, persist: 'auto' });
  });
});
