// Each cross-check on a plan fixture that trips it and one that does not: tasks planned by their
// real modules on recorded machines (seed 003's two-node Xeon, the 23.5 GiB CI VM).

import { describe, expect, it } from 'vitest';
import { loadModules } from '../../../modules/index.js';
import type { Facts } from '../../../src/facts.js';
import type { CrossTask } from '../../../src/module.js';
import { crossChecksOf, runCrossChecks } from '../../../src/engine/cross-checks.js';
import { recorded } from '../topology/load.js';
import { argsTask, domainTask, domainXml, sysctlTask } from './plans.js';

const checks = crossChecksOf((await loadModules()).values());
const seed003 = recorded('seed003-2s10c-ht');
const ciVm = recorded('amd-epyc-vm-no1g');
const judge = (facts: Facts, tasks: CrossTask[]) => runCrossChecks(checks, { host: facts.hostname, facts, tasks });
const only = (facts: Facts, tasks: CrossTask[], rule: string) => judge(facts, tasks).problems.filter((p) => p.rule === rule);

const vm16 = domainXml('vm1', { memoryGiB: 16 });
const bootPool = (count: string) => argsTask('grub_cmdline', { present: ['default_hugepagesz=1G', 'hugepagesz=1G', `hugepages=${count}`] });
const strictOn = (node: string) =>
  domainTask(seed003, { name: 'vm1', numatune: { mode: 'strict', nodeset: node }, memory_backing: { hugepages: true } }, { vm1: vm16 });

describe('numatune-hugepages', () => {
  it('trips: strict on node 1 with hugepages=16 split over two nodes (error, with the numbers)', () => {
    const [p, ...rest] = only(seed003, [bootPool('16'), strictOn('1')], 'numatune-hugepages');
    expect(rest).toEqual([]);
    expect(p.severity).toBe('error');
    expect(p.message).toMatch(
      /^numatune strict node 1 needs 16 GiB of 1G pages on node 1 \(domain vm1\); the boot pool \(hugepages=16, split over 2 nodes\) gives node 1 8 GiB: the domain would not start/,
    );
    expect(p.task).toBe('domain');
    expect(p.pos).toMatchObject({ file: 'fixture.yml', column: 7 });
  });

  it('trips on the domain as seed 003 defines it (<memnode> strict on node 0, <hugepages/>) with no pool at all', () => {
    const seedVm = domainXml('vm1', { memoryGiB: 16, hugepages: true, numatune: `<memnode cellid='0' mode='strict' nodeset='0'/>` });
    const [p] = only(
      seed003,
      [domainTask(seed003, { name: 'vm1', cputune: { emulatorpin: '11-19' } }, { vm1: seedVm })],
      'numatune-hugepages',
    );
    expect(p.message).toMatch(/^numatune strict node 0 needs 16 GiB of 2M pages on node 0 .*the host pool gives node 0 0 KiB/);
  });

  it('passes: a boot pool of 16 pages on each node, or 16 on node 1 alone (hugepages=1:16)', () => {
    expect(only(seed003, [bootPool('32'), strictOn('1')], 'numatune-hugepages')).toEqual([]);
    expect(only(seed003, [bootPool('0:0,1:16'), strictOn('1')], 'numatune-hugepages')).toEqual([]);
  });
});

describe('memtune-hard-limit', () => {
  const limit = (size: string) => domainTask(seed003, { name: 'vm1', memtune: { hard_limit: size } }, { vm1: vm16 });
  it('trips: 2 GiB on a 16 GiB domain (error)', () => {
    const [p] = only(seed003, [limit('2GiB')], 'memtune-hard-limit');
    expect(p.severity).toBe('error');
    expect(p.message).toMatch(/^memtune hard_limit 2 GiB on domain vm1 is below its memory of 16 GiB/);
  });
  it('passes: 18 GiB (the memory plus QEMU overhead)', () => {
    expect(only(seed003, [limit('18GiB')], 'memtune-hard-limit')).toEqual([]);
  });
  it('takes the memory from facts offline, and says when it knows none', () => {
    const offline = { ...argsTask('libvirt_domain', { name: 'vm1', memtune: { hard_limit: '2GiB' } }) };
    const withVm: Facts = {
      ...seed003,
      domains: [{ name: 'vm1', state: 'shut off', vcpus: 9, maxVcpus: 9, memoryKiB: 16 * 1048576, maxMemoryKiB: 16 * 1048576 }],
    };
    expect(only(withVm, [offline], 'memtune-hard-limit').map((p) => p.severity)).toEqual(['error']);
    const run = judge(seed003, [offline]);
    expect(run.problems).toEqual([]);
    expect(run.unknown).toContainEqual({ rule: 'memtune-hard-limit', what: expect.stringMatching(/memory of domain vm1/) });
  });
});

describe('blkio-weight-scheduler', () => {
  const weight = domainTask(seed003, { name: 'vm1', blkiotune: { weight: 500 } }, { vm1: vm16 });
  const scheduler = (s: string) => argsTask('sysfs', { block: { match: 'sd*', attributes: { 'queue/scheduler': s } } });
  it('trips: a weight while the disks get mq-deadline (warning)', () => {
    const [p] = only(seed003, [scheduler('mq-deadline'), weight], 'blkio-weight-scheduler');
    expect(p.severity).toBe('warning');
    expect(p.message).toMatch(/^blkiotune weight 500 on domain vm1 does nothing: the I\/O scheduler is set \(sd\* to mq-deadline\).*bfq/);
  });
  it('passes: bfq honours weights', () => {
    expect(only(seed003, [scheduler('bfq'), weight], 'blkio-weight-scheduler')).toEqual([]);
  });
});

describe('pinning-daemons', () => {
  const pins = domainTask(seed003, { name: 'vm1', cputune: { vcpupin: { 0: '1', 1: '2' }, emulatorpin: '11-19' } }, { vm1: vm16 });
  const running = (names: string[], profile: string | null = null, isolatedCores: number[] | null = null): Facts => ({
    ...seed003,
    daemons: { running: names, tuned: { profile, isolatedCores } },
  });
  it('trips: numad runs (warning)', () => {
    const [p] = only(running(['numad', 'irqbalance']), [pins], 'pinning-daemons');
    expect(p.severity).toBe('warning');
    expect(p.message).toMatch(/^static vcpupin and emulatorpin on domain vm1 while numad runs/);
  });
  it("trips: tuned's cpu-partitioning isolates cores the pins do not stay in, naming them", () => {
    const [p] = only(running(['tuned'], 'cpu-partitioning', [2, 3, 4, 5, 6, 7, 8, 9]), [pins], 'pinning-daemons');
    expect(p.message).toMatch(/puts threads on CPUs 1,11-19, outside the cores tuned's cpu-partitioning profile isolates \(2-9\)/);
  });
  it('passes: no numad, tuned isolating every pinned CPU; not judged without daemon facts', () => {
    expect(only(running(['irqbalance']), [pins], 'pinning-daemons')).toEqual([]);
    expect(
      only(
        running(['tuned'], 'cpu-partitioning', [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19]),
        [pins],
        'pinning-daemons',
      ),
    ).toEqual([]);
    expect(only(running(['tuned'], 'virtual-host'), [pins], 'pinning-daemons')).toEqual([]);
    expect(judge(seed003, [pins]).unknown).toContainEqual({ rule: 'pinning-daemons', what: expect.stringMatching(/numad or tuned/) });
  });
});

describe('sysctl-max-lowered', () => {
  const KERNEL = '9223372036854775807';
  it('trips: fs.file-max below what the kernel has (warning naming both numbers)', () => {
    const [p] = only(seed003, [sysctlTask(seed003, { 'fs.file-max': 65536 }, { 'fs.file-max': KERNEL })], 'sysctl-max-lowered');
    expect(p.severity).toBe('warning');
    expect(p.message).toMatch(new RegExp(`^fs.file-max 65536 is below what the kernel has now \\(${KERNEL}\\)`));
  });
  it('passes: raised, equal, or a key that is no ceiling', () => {
    const tasks = [
      sysctlTask(seed003, { 'vm.max_map_count': 1048576 }, { 'vm.max_map_count': '65530' }),
      sysctlTask(seed003, { 'fs.file-max': KERNEL }, { 'fs.file-max': KERNEL }),
      sysctlTask(seed003, { 'net.ipv4.tcp_fin_timeout': 10 }, { 'net.ipv4.tcp_fin_timeout': '60' }),
    ];
    expect(only(seed003, tasks, 'sysctl-max-lowered')).toEqual([]);
  });
});

describe('hugepage-pool-memory (on the CI VM: 23.5 GiB, 23.0 GiB free, 2M pages)', () => {
  const pool = (pages: number) => sysctlTask(ciVm, { 'vm.nr_hugepages': pages }, { 'vm.nr_hugepages': '0' });
  it('trips: 32 GiB of pages on a 23.5 GiB host (error)', () => {
    const [p] = only(ciVm, [pool(16384)], 'hugepage-pool-memory');
    expect(p.severity).toBe('error');
    expect(p.message).toMatch(
      /^the huge page pool would hold 32 GiB \(16384 pages of 2M from vm.nr_hugepages=16384\); the host has 23.5 GiB of memory in all/,
    );
  });
  it('trips: 23 GiB, more than the 23.0 GiB free (warning)', () => {
    const [p] = only(ciVm, [pool(11776)], 'hugepage-pool-memory');
    expect(p.severity).toBe('warning');
    expect(p.message).toMatch(/would hold 23 GiB .*23 GiB more than now, and the host has 23.0 GiB free/);
  });
  it('trips on a boot pool in grub too; passes at 8 GiB', () => {
    expect(only(ciVm, [argsTask('grub_cmdline', { present: ['hugepages=16384'] })], 'hugepage-pool-memory').map((p) => p.severity)).toEqual(
      ['error'],
    );
    expect(only(ciVm, [pool(4096)], 'hugepage-pool-memory')).toEqual([]);
  });
});

describe('offline', () => {
  it('skips the rules that judge what tasks read on a host', () => {
    const run = runCrossChecks(checks, { host: 'x', facts: seed003, tasks: [] }, { offline: true });
    expect(run.skipped.map((c) => c.id)).toEqual(['sysctl-max-lowered']);
  });
});
