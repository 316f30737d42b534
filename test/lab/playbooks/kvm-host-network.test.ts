// playbooks/kvm-host-network.yml on a tier-1 lab host, through the real CLI, with the host's veth
// eth0 as the "physical" NIC. A lab host is a network namespace: the NAPI keys are absent there and
// the socket buffer ceilings read-only, and a veth has no rings or flow hash; check mode says so
// per task and changes nothing. The rest is applied: offloads, module options files (no loadable
// modules here: files only), conntrack's hash table resized live (a shadow of the machine's file;
// nf_conntrack_max is read-only in a netns and a bind mount over a per-netns /proc/sys/net file
// does not show there, so that task is skipped here and covered by the unit tests),
// then zero changes. The safe defaults hold: bridge netfilter, zero-copy and max_vfs untouched.
// The CPU vendor decides the AVIC task: the tests name it with the lab host's own facts, vendor
// set, so they take the same branch on an Intel machine and on an AMD one. The kernel's modules
// are the machine's: the host is given a /sys/module with only nf_conntrack's hashsize (a shadow).

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, labFacts, play, withCpuVendor } from '../play.js';

const lab = useLab({ hosts: 1 });
const playbook = readFileSync(new URL('../../../playbooks/kvm-host-network.yml', import.meta.url), 'utf8');
// Tier-1 hosts have no udev daemon for persist: auto to find; the udev rule file is still written.
// a veth has no queue interrupts, and /proc/irq is the machine's own: irq_affinity is the VM tier's
const vars = ['-e', 'host_nic=eth0', '-e', 'nic_persist=udev', '-e', 'nic_irq_affinity=false'];
const KVM_CONF = '/etc/modprobe.d/kvm.conf';
const facts = { amd: '', intel: '' };
beforeAll(async () => {
  await lab().shadowTree('hv1', '/sys/module', { 'nf_conntrack/parameters/hashsize': '65536\n' });
  facts.amd = await labFacts(lab(), withCpuVendor('AuthenticAMD'));
  facts.intel = await labFacts(lab(), withCpuVendor('GenuineIntel'));
});

describe('playbooks/kvm-host-network.yml', () => {
  test('check: what a namespace and a veth lack fails, naming it; nothing changes', async () => {
    // Check mode fails each task alone and plans the rest: one check names every missing part.
    const check = await play(lab(), playbook, { check: true, args: [...vars, '--skip-tags', 'boot'] });
    expect(check.code).toBe(1);
    expect(check.report.failures.map((f) => f.task)).toEqual([
      'NAPI budget and backlog',
      'Socket buffer ceilings',
      'Host NIC rings and UDP flow hash',
    ]);
    expect(check.report.failures[0].message).toMatch(/net\.core\.netdev_max_backlog/);
    // read-only inside a network namespace (LAB.md)
    expect(check.report.failures[1].message).toMatch(/net\.core\.[rw]mem_max/);
    expect(check.report.failures[2].message).toMatch(/eth0/);
    expect(await lab().readFile('hv1', '/etc/sysctl.d/60-hvtune-net-host.conf')).toBeNull();
  });

  test('AVIC is planned only where the CPU is AMD; mitigations stay on unless asked', async () => {
    const args = [...vars, '--skip-tags', 'boot,napi,nic-ring', '-e', 'trade_security_for_speed=false'];
    const amd = await play(lab(), playbook, { check: true, args: [...args, '--facts', facts.amd] });
    expect(amd.report.failures).toEqual([]);
    const avic = changesOn(amd.report, 'hv1').filter((c) => c.task === 'AVIC on AMD hosts');
    expect(avic.map((c) => [c.target, c.effect])).toEqual([[KVM_CONF, 'persistent']]);
    expect(avic[0].diff).toContain('+options kvm_amd avic=1');
    const intel = await play(lab(), playbook, { check: true, args: [...args, '--facts', facts.intel] });
    expect(intel.report.failures).toEqual([]);
    expect(changesOn(intel.report, 'hv1').filter((c) => c.task === 'AVIC on AMD hosts')).toEqual([]);
    expect(intel.report.recap.hv1.skipped).toBe(amd.report.recap.hv1.skipped + 1);
    for (const r of [amd, intel]) expect(r.report.changes.some((c) => (c.diff ?? '').includes('mitigations'))).toBe(false);
    expect(await lab().readFile('hv1', KVM_CONF)).toBeNull();
  });

  test('apply the rest (on an AMD host); the host has it; a second run changes nothing', async () => {
    const args = [...vars, '-e', 'conntrack_max=1000000', '--skip-tags', 'boot,napi,nic-ring,conntrack-max', '--facts', facts.amd];
    const bridgeBefore = (await lab().exec('hv1', ['sysctl', '-n', 'net.bridge.bridge-nf-call-iptables'])).stdout;
    const check = await play(lab(), playbook, { check: true, args });
    expect(check.code, check.stdout + check.stderr).toBe(2);
    const r = await play(lab(), playbook, { args });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // bridge netfilter stays as the distribution has it: guests' iptables firewalls keep working
    expect((await lab().exec('hv1', ['sysctl', '-n', 'net.bridge.bridge-nf-call-iptables'])).stdout).toBe(bridgeBefore);
    expect(await lab().readFile('hv1', '/etc/sysctl.d/60-hvtune-net-host.conf')).toBeNull();
    expect((await lab().exec('hv1', ['ethtool', '-k', 'eth0'])).stdout).toMatch(/^generic-receive-offload: on/m);
    expect(await lab().readFile('hv1', '/etc/modprobe.d/hvtune-vhost_net.conf')).toBeNull();
    expect(await lab().readFile('hv1', '/etc/modprobe.d/hvtune-igb.conf')).toBeNull();
    // conntrack: the hash table resized live and kept for the next module load
    expect((await lab().readFile('hv1', '/sys/module/nf_conntrack/parameters/hashsize'))?.trim()).toBe('250000');
    expect(await lab().readFile('hv1', '/etc/modprobe.d/hvtune-nf_conntrack.conf')).toContain('hashsize=250000');
    expect(await lab().readFile('hv1', KVM_CONF)).toContain('options kvm_amd avic=1');
    const again = await play(lab(), playbook, { args });
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });
});
