// libvirt_domain timelines against a real private libvirtd inside a tier-1 lab host, through the
// real CLI. Domains are TCG (type='qemu'): /dev/kvm here cannot run a guest, and there is no
// /dev/vhost-net, so a domain with <driver name='vhost'/> is checked at define level only.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { canonicalXml } from '../../../modules/lib/domain-xml.js';
import { defineTcgDomain, LIBVIRT_URI, startLibvirt, type LabLibvirt } from '../../../src/lab/libvirt.js';
import { useLab } from '../lab.js';
import { changesOn, labFile, play } from '../play.js';

const lab = useLab({ hosts: 1 });
let libvirt: LabLibvirt | undefined;
const playbook = (name: string) => readFileSync(new URL(`../../../playbooks/${name}`, import.meta.url), 'utf8');

async function virsh(...args: string[]): Promise<string> {
  const r = await lab().exec('hv1', ['virsh', '-q', '-c', LIBVIRT_URI, ...args]);
  if (r.code !== 0) throw new Error(`virsh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const inactiveXml = (name: string) => virsh('dumpxml', '--inactive', name);
/** `virsh schedinfo`-style "key : value" lines as a record. */
const fields = (text: string) =>
  Object.fromEntries(text.split('\n').filter((l) => l.includes(':')).map((l) => l.split(':').map((s) => s.trim())));

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

describe('seed 003 tuning on a shut-off domain (playbooks/kvm-domain-tuning.yml)', () => {
  // The seed's host has 40 CPUs; the lab host has 2, so the CPU lists are the host's vars.
  const labVars = () =>
    labFile(lab(), 'vars.yml', [
      'vm_name: vm1', 'vm_vcpus: 2', 'vcpu_pins: {0: "1", 1: "0"}', 'emulator_cpus: "0-1"',
      'numa_node: "0"', 'vm_nic_mac: "52:54:00:12:34:56"', 'vm_queues: 2', '',
    ].join('\n'));
  const run = (check: boolean) => play(lab(), playbook('kvm-domain-tuning.yml'), { check, diff: true, args: ['-e', `@${labVars()}`] });
  let original = '';

  test('with the seed\'s own CPU numbers, check mode fails naming the missing CPUs', async () => {
    original = await inactiveXml('vm1');
    const r = await play(lab(), playbook('kvm-domain-tuning.yml'), { check: true });
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => f.message).join('\n')).toMatch(/vcpupin 0: CPU 1 is not online|is not online on this host/);
    expect(await inactiveXml('vm1')).toBe(original);
  });

  test('check shows the patch as a diff and changes nothing', async () => {
    const r = await run(true);
    expect(r.code).toBe(2);
    const changes = changesOn(r.report, 'hv1');
    expect(changes.map((c) => [c.target, c.effect])).toEqual([['domain:vm1', 'persistent'], ['domain:vm1', 'persistent']]);
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
      "<cpu check='none' match='exact' mode='custom'>", "<model fallback='forbid'>qemu64</model>", '</cpu>',
      "<driver name='qemu' type='qcow2'/>",
    ]);
    const after = new Set(canonicalXml(xml).split('\n').map((l) => l.trim()));
    const lost = canonicalXml(original).split('\n').map((l) => l.trim()).filter((l) => !after.has(l) && !replaced.has(l));
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

describe('multi-queue virtio-net, host side (playbooks/virtio-multiqueue-host.yml)', () => {
  const vars = () => labFile(lab(), 'vars.yml', 'vm_name: vm3\nvm_nic_mac: "52:54:00:12:34:58"\nvm_queues: 2\n');
  const run = (check: boolean) => play(lab(), playbook('virtio-multiqueue-host.yml'), { check, args: ['-e', `@${vars()}`] });

  test('defines vhost queues, then reports nothing to do', async () => {
    const check = await run(true);
    expect(check.code).toBe(2);
    expect(changesOn(check.report, 'hv1').map((c) => c.summary)).toEqual([
      'define vm3 with interface[mac=52:54:00:12:34:58]/driver@name, interface[mac=52:54:00:12:34:58]/driver@queues',
    ]);
    expect((await run(false)).code).toBe(0);
    expect(await inactiveXml('vm3')).toContain("<driver name='vhost' queues='2'/>");
    expect(changesOn((await run(false)).report, 'hv1')).toEqual([]);
  });

  test('more queues than vCPUs is refused in check mode', async () => {
    const bad = labFile(lab(), 'vars.yml', 'vm_name: vm3\nvm_nic_mac: "52:54:00:12:34:58"\nvm_queues: 4\n');
    const r = await play(lab(), playbook('virtio-multiqueue-host.yml'), { check: true, args: ['-e', `@${bad}`] });
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => f.message).join('\n')).toContain("queues 4 is above the domain's 2 vCPUs");
  });
});
