// Every risky choice of the shipped playbooks is a variable whose default is the safe value, and
// turning it on makes the plan warn. Rendered with a recorded machine (seed 003's host), then
// planned by the real module against an observed state of the kind a host reports.

import { describe, expect, it } from 'vitest';
import libvirt_domain from '../../../modules/libvirt_domain.js';
import modprobe, { type ModprobeObserved } from '../../../modules/modprobe.js';
import sysctl, { type SysctlObserved } from '../../../modules/sysctl.js';
import sysfs from '../../../modules/sysfs.js';
import type { PlanContext, PlanResult } from '../../../src/module.js';
import { recorded } from '../topology/load.js';
import { loadProjectPlaybook, renderPlay, taskArgs, type RenderedTask } from './render.js';

const facts = recorded('seed003-2s10c-ht');
const ctx: PlanContext = { host: 'hv1', facts };
const ran = (tasks: RenderedTask[]) => tasks.filter((t) => t.args.length).map((t) => t.name);
const allWarnings = (r: PlanResult) => [...(r.warnings ?? []), ...r.changes.flatMap((c) => c.warnings ?? [])].join('\n');
const network = async (vars: Record<string, unknown> = {}) =>
  renderPlay(await loadProjectPlaybook('kvm-host-network.yml'), 0, facts, { host_nic: 'ens1f0', ...vars });
const memory = async (vars: Record<string, unknown> = {}) => renderPlay(await loadProjectPlaybook('memory-and-disk.yml'), 0, facts, vars);
const tcp = async (vars: Record<string, unknown> = {}) => renderPlay(await loadProjectPlaybook('tcp-tuning.yml'), 0, facts, vars);

const moduleObserved = (params: Record<string, string>): ModprobeObserved => ({
  modprobeFiles: {},
  loadFiles: {},
  loadable: true,
  live: { state: 'loaded', refcnt: 0, params },
});
const sysctlObserved = (keys: Record<string, string>): SysctlObserved => ({
  keys: Object.fromEntries(Object.entries(keys).map(([k, live]) => [k, { live, writable: true }])),
  file: { path: '/etc/sysctl.d/60-hvtune-net-host.conf', content: null },
  bootFiles: {},
  availableCongestion: ['reno', 'cubic', 'bbr'],
});
const domainObserved = (memoryKiB: number) => ({
  error: null,
  hostCpus: '0-39',
  hostNodes: '0-1',
  names: ['vm1'],
  domains: [
    {
      name: 'vm1',
      state: 'shut off',
      persisted: `<domain type='kvm'><name>vm1</name><memory unit='KiB'>${memoryKiB}</memory><vcpu>2</vcpu><devices/></domain>`,
      live: null,
    },
  ],
});

describe('kvm-host-network.yml: safe by default, warned when turned on', () => {
  it('vhost_net is loaded at boot without zero-copy transmit; vhost_zerocopy_tx: true sets it and warns', async () => {
    const off = await network();
    expect(taskArgs(off, 'vhost-net loaded at boot')).toEqual({ module: 'vhost_net', load: 'boot' });
    expect(ran(off)).not.toContain('vhost-net zero-copy transmit (opt-in)');
    const on = taskArgs(await network({ vhost_zerocopy_tx: true }), 'vhost-net zero-copy transmit (opt-in)');
    expect(on.options).toEqual({ experimental_zcopytx: 1 });
    const plan = modprobe.plan(on, moduleObserved({ experimental_zcopytx: '0' }), ctx);
    expect(allWarnings(plan)).toContain('head-of-line blocking');
    expect(allWarnings(modprobe.plan({ module: 'vhost_net', load: 'boot' }, moduleObserved({}), ctx))).not.toContain('zcopytx');
  });

  it('bridge netfilter is left as the distribution has it; guest_firewall: false turns it off and warns', async () => {
    expect(ran(await network())).not.toContain('Bridged traffic skips iptables');
    const on = taskArgs(await network({ guest_firewall: false }), 'Bridged traffic skips iptables');
    const plan = sysctl.plan(
      on,
      sysctlObserved({
        'net.bridge.bridge-nf-call-iptables': '1',
        'net.bridge.bridge-nf-call-ip6tables': '1',
        'net.bridge.bridge-nf-call-arptables': '1',
      }),
      ctx,
    );
    expect(allWarnings(plan)).toContain('turns off iptables-based guest firewalls');
  });

  it('SR-IOV VFs are left alone; sriov_vfs: 7 makes them through sriov_numvfs, never the legacy igb max_vfs', async () => {
    expect(ran(await network())).not.toContain('SR-IOV virtual functions on the NIC');
    const on = await network({ sriov_vfs: 7 });
    expect(taskArgs(on, 'SR-IOV virtual functions on the NIC')).toEqual({ device: 'ens1f0', numvfs: 7 });
    expect(JSON.stringify(on)).not.toContain('max_vfs');
  });

  it('conntrack is left alone; conntrack_max raises nf_conntrack_max (never lowers it) and sets hashsize live and persisted', async () => {
    const conntrack = ['Conntrack table size (opt-in)', 'Conntrack hash table, live', 'Conntrack hash table, at the next module load'];
    for (const name of conntrack) expect(ran(await network())).not.toContain(name);
    const on = await network({ conntrack_max: 1000000 });
    expect(ran(on)).toEqual(expect.arrayContaining(conntrack));
    const max = taskArgs(on, 'Conntrack table size (opt-in)');
    expect(max).toMatchObject({ only_raise: true, values: { 'net.netfilter.nf_conntrack_max': 1000000 } });
    // a host whose kernel already allows more keeps its value
    expect(sysctl.plan(max, sysctlObserved({ 'net.netfilter.nf_conntrack_max': '2097152' }), ctx).changes).toEqual([]);
    expect(sysctl.plan(max, sysctlObserved({ 'net.netfilter.nf_conntrack_max': '262144' }), ctx).changes.map((c) => c.after)).toContain(
      '1000000',
    );
    expect(taskArgs(on, 'Conntrack hash table, live')).toEqual({
      path: '/sys/module/nf_conntrack/parameters/hashsize',
      value: 250000,
      persist: 'no',
    });
    expect(taskArgs(on, 'Conntrack hash table, at the next module load').options).toEqual({ hashsize: 250000 });
  });

  it('txqueuelen and interrupt coalescing are left to the kernel and driver unless asked', async () => {
    const off = ran(await network());
    expect(off).not.toContain('Host NIC transmit queue length (opt-in)');
    expect(off).not.toContain('Host NIC interrupt coalescing (opt-in)');
    const on = await network({ nic_txqueuelen: 5000, nic_rx_usecs: 50 });
    expect(taskArgs(on, 'Host NIC transmit queue length (opt-in)').txqueuelen).toBe(5000);
    expect(taskArgs(on, 'Host NIC interrupt coalescing (opt-in)').coalesce).toEqual({ 'adaptive-rx': 'off', 'rx-usecs': 50 });
  });
});

describe('memory-and-disk.yml: safe by default, warned when turned on', () => {
  it('THP defrag is defer+madvise; always is allowed and warned', async () => {
    expect(taskArgs(await memory(), 'THP defragmentation').value).toBe('defer+madvise');
    const on = taskArgs(await memory({ thp_defrag: 'always' }), 'THP defragmentation');
    const observed = {
      targets: [{ path: on.path, attribute: 'defrag', live: 'always defer [defer+madvise] madvise never\n' }],
      tmpfiles: null,
      rule: null,
    };
    expect(allWarnings(sysfs.plan(on, observed, ctx))).toContain('direct compaction');
  });

  it('no memory hard limit by default; when set it is relative to each domain, never a fixed 2 GiB', async () => {
    expect(ran(await memory())).not.toContain("guests' memory hard limit (opt-in, relative to each guest's memory)");
    const on = taskArgs(
      await memory({ vm_memory_hard_limit: 'memory+25%' }),
      "guests' memory hard limit (opt-in, relative to each guest's memory)",
    );
    const limitOf = (memoryKiB: number) => {
      const [change] = libvirt_domain.plan(on, domainObserved(memoryKiB), ctx).changes;
      return /<hard_limit unit='KiB'>(\d+)</.exec(change.diff!.after!)?.[1];
    };
    expect(limitOf(4194304)).toBe('5242880');
    expect(limitOf(16777216)).toBe('20971520');
  });

  it('no blkio weight by default; a weight warns that only bfq honours it', async () => {
    expect(ran(await memory())).not.toContain("guests' block I/O weight (opt-in, bfq only)");
    const on = taskArgs(await memory({ vm_blkio_weight: 100, disk_scheduler: 'bfq' }), "guests' block I/O weight (opt-in, bfq only)");
    expect(allWarnings(libvirt_domain.plan(on, domainObserved(1048576), ctx))).toContain('bfq');
  });
});

describe('tcp-tuning.yml: congestion control', () => {
  it("leaves the kernel's algorithm by default; bbr loads tcp_bbr at boot and sets the key", async () => {
    const off = ran(await tcp());
    expect(off).not.toContain('Congestion control (opt-in)');
    expect(off).not.toContain('Congestion control module loaded at boot (opt-in)');
    const bbr = await tcp({ tcp_congestion: 'bbr' });
    expect(taskArgs(bbr, 'Congestion control module loaded at boot (opt-in)')).toEqual({ module: 'tcp_bbr', load: 'boot' });
    expect(taskArgs(bbr, 'Congestion control (opt-in)').values).toEqual({ 'net.ipv4.tcp_congestion_control': 'bbr' });
    // cubic is always built in: nothing to load
    expect(ran(await tcp({ tcp_congestion: 'cubic' }))).not.toContain('Congestion control module loaded at boot (opt-in)');
  });
});

describe('firewall-teardown.yml', () => {
  it("declares the raw table for the guests' bridge; the host's filter table is flushed only when asked", async () => {
    const tasks = renderPlay(await loadProjectPlaybook('firewall-teardown.yml'), 0, facts);
    expect(taskArgs(tasks, 'no connection tracking for guest traffic')).toEqual({
      table: 'raw',
      chains: { PREROUTING: ['-i br_ens1f0 -j CT --notrack'], OUTPUT: ['-o br_ens1f0 -j CT --notrack'] },
    });
    expect(ran(tasks)).not.toContain('filter table empty (opt-in)');
    const flushed = renderPlay(await loadProjectPlaybook('firewall-teardown.yml'), 0, facts, { flush_filter: true });
    expect(taskArgs(flushed, 'filter table empty (opt-in)')).toEqual({ table: 'filter', chains: {} });
  });
});
