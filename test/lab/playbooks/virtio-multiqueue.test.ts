// playbooks/virtio-multiqueue.yml through the real CLI on two lab hosts: hv1 is the KVM host (a
// private libvirtd, a TCG domain with 2 vCPUs), hv2 the "guest". The host play is a full timeline.
// The guest play needs a virtio-net NIC (ethtool -L combined): a tier-1 host has a veth, which
// has no combined channels, so there it is checked only and must fail clearly; the full-VM tier
// (test/vm) has a real virtio-net guest.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineTcgDomain, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';
import { virshOn } from './virsh.js';

const lab = useLab({ hosts: 2, groups: { kvm_hosts: ['hv1'], guests: ['hv2'] } });
const virsh = virshOn(lab, 'hv1');
let libvirt: LabLibvirt | undefined;
const playbook = readFileSync(new URL('../../../playbooks/virtio-multiqueue.yml', import.meta.url), 'utf8');
const hostVars = (vcpus: number) => [
  '-e',
  'vm_name=vm1',
  '-e',
  'vm_nic_mac=52:54:00:12:34:56',
  '-e',
  `vm_vcpus=${vcpus}`,
  '-e',
  'guest_nic=eth0',
];

beforeAll(async () => {
  libvirt = await startLibvirt(lab(), 'hv1');
  await defineTcgDomain(lab(), 'hv1', 'vm1', { vcpus: 2 });
}, 120_000);
afterAll(async () => {
  await libvirt?.stop();
});

describe('playbooks/virtio-multiqueue.yml', () => {
  test('host play: one queue per vCPU, defined, then nothing to do', async () => {
    const args = [...hostVars(2), '--limit', 'kvm_hosts'];
    const check = await play(lab(), playbook, { check: true, diff: true, args });
    expect(check.code, check.stdout + check.stderr).toBe(2);
    expect(changesOn(check.report, 'hv1')).toHaveLength(1);
    expect(changesOn(check.report, 'hv1')[0].diff).toContain("queues='2'");
    expect(await virsh.inactiveXml('vm1')).not.toContain("queues='2'");
    expect((await play(lab(), playbook, { args })).code).toBe(0);
    expect(await virsh.inactiveXml('vm1')).toMatch(/<driver name='vhost' queues='2' rx_queue_size='256' tx_queue_size='256'\/>/);
    const again = await play(lab(), playbook, { args });
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });

  test('more queues than the domain has vCPUs is refused in check mode', async () => {
    const r = await play(lab(), playbook, { check: true, args: [...hostVars(4), '--limit', 'kvm_hosts'] });
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => f.message).join('\n')).toContain("queues 4 is above the domain's 2 vCPUs");
  });

  test('guest play on a veth: check fails naming the NIC, and changes nothing', async () => {
    const before = (await lab().exec('hv2', ['ethtool', '-l', 'eth0'])).stdout;
    const r = await play(lab(), playbook, { check: true, args: [...hostVars(2), '--limit', 'guests'] });
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => `${f.host} ${f.message}`).join('\n')).toMatch(/hv2 .*eth0/);
    expect((await lab().exec('hv2', ['ethtool', '-l', 'eth0'])).stdout).toBe(before);
  });
});
