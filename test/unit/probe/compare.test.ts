// The probe's parsing, rates and --compare on recorded samples of the seed 003 host (2 × 10 cores
// with HT, i40e ens1f0 with 40 TxRx queues, domain vm1 with 9 vCPUs on CPUs 1-9): two samples 5 s
// apart before tuning (queue IRQs on the vCPU cores, softnet and NIC drops, vCPU 2 off its pin, 40%
// of its memory on the far node) and two after. The samples are written in the formats the tools
// print (softnet_stat hex rows, ethtool -S, virsh vcpuinfo, numastat -p).

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts.js';
import { compareProbes, verdictOf } from '../../../src/probe/compare.js';
import { parseSample } from '../../../src/probe/parse.js';
import { probeRates } from '../../../src/probe/rates.js';
import { loadProbeReport } from '../../../src/probe/report-file.js';
import type { CompareLine, HostProbe, ProbeReport } from '../../../src/probe/types.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/probe/${name}`, import.meta.url), 'utf8');
const facts = (JSON.parse(fixture('../facts/seed003-2s10c-ht.json')) as { hosts: Record<string, Facts> }).hosts['zs-compute1'];
const irqs = facts.nics!.flatMap((n) => (n.irq ?? []).map((q) => q.irq));

function probeOf(phase: 'before' | 'after'): HostProbe {
  const a = parseSample(fixture(`seed003-${phase}-1.txt`), irqs);
  const b = parseSample(fixture(`seed003-${phase}-2.txt`), irqs);
  return probeRates(a, b, facts, 5);
}

const report = (p: HostProbe): ProbeReport => ({
  format: 'hvtune-probe',
  version: 1,
  taken: '2026-11-30T12:00:00.000Z',
  interval: 5,
  hosts: { 'zs-compute1': p },
  failures: {},
});

const line = (lines: CompareLine[], what: string) => lines.find((l) => l.what === what);

describe('rates of one host', () => {
  const before = probeOf('before');

  it('measures the interval on the host clock and gives per-CPU rates', () => {
    expect(before.seconds).toBe(5);
    expect(before.netRx).toHaveLength(40);
    expect(before.netRx!.find((r) => r.cpu === 3)!.perSecond).toBe(2000);
    expect(before.netRx!.find((r) => r.cpu === 15)!.perSecond).toBe(10);
    expect(before.softnet!.find((r) => r.cpu === 3)).toMatchObject({ dropped: 10, timeSqueeze: 50 });
    expect(before.summary).toMatchObject({ softnetDropped: 10, timeSqueeze: 50, vcpusOffPin: 1 });
  });

  it('finds queue interrupts per CPU by the facts’ queue names, and those on vCPU cores', () => {
    const q3 = before.queues!.find((q) => q.queue === 'i40e-ens1f0-TxRx-3')!;
    expect(q3).toMatchObject({ nic: 'ens1f0', irq: 101, affinity: [3], perSecond: 2500, perCpu: [{ cpu: 3, perSecond: 2500 }] });
    expect(before.summary.vcpuCpus).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(before.summary.irqsOnVcpuCpus).toBe(9 * 2500);
  });

  it('keeps the NIC drop counters of both sources, and the domain’s memory, pins and vhost thread', () => {
    expect(before.nics.ens1f0.statistics).toMatchObject({ rx_dropped: 60, rx_packets: 250000 });
    expect(before.nics.ens1f0.ethtool).toEqual({ rx_dropped: 60, 'port.rx_dropped': 60, 'port.rx_discards': 0, tx_dropped_link_down: 0 });
    const vm1 = before.domains![0];
    expect(vm1.memory).toMatchObject({ source: 'numastat', localNodes: [0], remotePercent: 40 });
    expect(vm1.vcpus!.filter((v) => v.offPin).map((v) => [v.vcpu, v.cpu, v.pin])).toEqual([[2, 12, [3]]]);
    expect(vm1.vhost).toEqual([{ tid: 4301, name: 'vhost-4242', cpus: [5], cpuPercent: 50 }]);
    expect(before.hugepages!.find((h) => h.node === 0 && h.sizeKiB === 1048576)).toMatchObject({ total: 8, free: 4, used: 4 });
  });

  it('never gives a negative rate: a counter that went back is left out with a note', () => {
    const a = parseSample(fixture('seed003-before-2.txt'), irqs);
    const b = parseSample(fixture('seed003-before-1.txt').replace('1000.00', '1010.00'), irqs);
    const p = probeRates(a, b, facts, 5);
    expect(p.nics.ens1f0.statistics.rx_dropped).toBeUndefined();
    expect(p.notes.some((n) => /ens1f0 rx_dropped went back/.test(n))).toBe(true);
    for (const r of p.netRx ?? []) expect(r.perSecond).toBeGreaterThanOrEqual(0);
  });

  it('drops a section a host cannot give with a note, never the probe', () => {
    const bare = '@@hvtune:uptime\n12.5\n@@hvtune:softirqs\n@@hvtune:missing ethtool\n@@hvtune:missing libvirt\n@@hvtune:end\n';
    const s = parseSample(bare, [101]);
    expect(s).toMatchObject({ uptime: 12.5, softirqs: null, softnet: null, ethtool: null, domains: null, interrupts: [] });
    expect(s.notes.join('\n')).toMatch(/ethtool is not installed[\s\S]*libvirt is absent/);
  });
});

describe('probe --compare', () => {
  const before = report(probeOf('before'));
  const after = report(probeOf('after'));

  it('says what got better after tuning, with the numbers', () => {
    const { lines, missing } = compareProbes(before, after);
    expect(missing).toEqual([]);
    expect(line(lines, 'softnet dropped/s')).toEqual({
      host: 'zs-compute1',
      what: 'softnet dropped/s',
      before: 10,
      after: 0,
      verdict: 'better',
    });
    expect(line(lines, 'softnet time_squeeze/s')).toMatchObject({ before: 50, after: 2, verdict: 'better' });
    expect(line(lines, 'ens1f0 rx_dropped/s')).toMatchObject({ before: 60, after: 0, verdict: 'better' });
    expect(line(lines, 'ens1f0 ethtool port.rx_dropped/s')).toMatchObject({ before: 60, after: 0, verdict: 'better' });
    expect(line(lines, 'NIC IRQs on vCPU cores/s')).toMatchObject({ before: 22500, after: 0, verdict: 'better' });
    expect(line(lines, 'domain vm1 remote memory %')).toMatchObject({ before: 40, verdict: 'better' });
    expect(line(lines, 'domain vm1 remote memory %')!.after).toBeLessThan(1);
    expect(line(lines, 'vCPUs off their pin')).toMatchObject({ before: 1, after: 0, verdict: 'better' });
    // Counters that did not move are not differences that matter.
    expect(line(lines, 'udp RcvbufErrors/s')).toBeUndefined();
    expect(lines.every((l) => l.verdict === 'better')).toBe(true);
  });

  it('says worse for the same lines the other way round, and nothing for a report against itself', () => {
    const reversed = compareProbes(after, before).lines;
    expect(reversed.map((l) => l.what).sort()).toEqual(
      compareProbes(before, after)
        .lines.map((l) => l.what)
        .sort(),
    );
    expect(reversed.every((l) => l.verdict === 'worse')).toBe(true);
    expect(compareProbes(before, before).lines).toEqual([]);
    expect(compareProbes(before, before, { all: true }).lines.every((l) => l.verdict === 'same')).toBe(true);
  });

  it('names a host found in one report only', () => {
    const other = { ...after, hosts: { ...after.hosts, 'zs-compute2': after.hosts['zs-compute1'] } };
    expect(compareProbes(before, other).missing).toEqual(['zs-compute2']);
  });

  it('treats small wobbles as noise', () => {
    expect(verdictOf(100, 103)).toBe('same');
    expect(verdictOf(0, 0.04)).toBe('same');
    expect(verdictOf(0, 1)).toBe('worse');
    expect(verdictOf(100, 80)).toBe('better');
  });
});

describe('saved reports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvtune-probe-'));

  it('reads back what probe -o writes', () => {
    const file = join(dir, 'before.json');
    const saved = report(probeOf('before'));
    writeFileSync(file, JSON.stringify(saved, null, 2));
    expect(loadProbeReport(file)).toEqual(saved);
  });

  it('names the file, the place and what was expected when it is not a probe report', () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{\n  "format": "hvtune-probe",\n  "hosts": {,}\n}\n');
    expect(() => loadProbeReport(broken)).toThrow(new RegExp(`${broken}:3:\\d+: not JSON`));
    const facts = join(dir, 'facts.json');
    writeFileSync(facts, JSON.stringify({ format: 'hvtune-facts', version: 1, hosts: {} }));
    expect(() => loadProbeReport(facts)).toThrow(/not a probe report \(expected a JSON object with "format": "hvtune-probe"/);
  });
});
