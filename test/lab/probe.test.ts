// `hvtune probe` against a real tier-1 host: real counters read over SSH. The host shares the
// machine's kernel, so softirq and softnet counters are the machine's: their shape and that every
// rate is a non-negative number are asserted, never values. The drop counter the test raises is
// the host's own: UDP RcvbufErrors of its network namespace, by flooding a socket whose receive
// buffer is tiny and never read, on the host's loopback.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { connectHost } from '../../src/host.js';
import { LIBVIRT_URI, defineTcgDomain, startLibvirt, type LabLibvirt } from '../harness/libvirt.js';
import { probeHost } from '../../src/probe/sample.js';
import type { CompareLine, HostProbe, ProbeReport } from '../../src/probe/types.js';
import { useLab } from './lab.js';
import { hvtune } from './play.js';

const lab = useLab({ hosts: 1, tag: 'probe' });

const PORT = 47811;
const RECEIVER = `import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
s.bind(('127.0.0.1', ${PORT}))
time.sleep(600)`;
// About 5000 datagrams a second, sleeping between bursts: enough to overflow, little CPU.
const SENDER = `import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    for i in range(50):
        s.sendto(b'x' * 1000, ('127.0.0.1', ${PORT}))
    time.sleep(0.01)`;

async function probe(out: string): Promise<ProbeReport> {
  const l = lab();
  const r = await hvtune(['probe', '-i', l.inventoryPath, '--known-hosts', l.knownHostsPath, '--interval', '1', '-o', out, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const printed = JSON.parse(r.stdout) as ProbeReport;
  expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(printed);
  return printed;
}

const rateShape = (p: HostProbe) => {
  expect(p.seconds).toBeGreaterThan(0.5);
  expect(p.netRx!.length).toBeGreaterThan(0);
  for (const r of p.netRx!) {
    expect(Number.isInteger(r.cpu)).toBe(true);
    expect(r.perSecond).toBeGreaterThanOrEqual(0);
  }
  expect(p.softnet!.length).toBeGreaterThan(0);
  for (const row of p.softnet!)
    for (const v of [row.processed, row.dropped, row.timeSqueeze]) {
      expect(typeof v).toBe('number');
      expect(v).toBeGreaterThanOrEqual(0);
    }
  expect(p.summary.softnetDropped).toBeGreaterThanOrEqual(0);
};

describe('hvtune probe on a lab host', () => {
  test('real counters as non-negative rates, the host’s own NIC, and notes for what it lacks', async () => {
    const report = await probe(join(lab().dir, 'first.json'));
    expect(Object.keys(report.hosts)).toEqual(['hv1']);
    expect(report.failures).toEqual({});
    const p = report.hosts.hv1;
    rateShape(p);
    // The lab host's netns has its veth (eth0) and lo, not the machine's NICs.
    expect(Object.keys(p.nics).sort()).toEqual(['eth0', 'lo']);
    expect(p.nics.eth0.statistics.rx_packets).toBeGreaterThanOrEqual(0);
    expect(p.udp!.RcvbufErrors).toBeGreaterThanOrEqual(0);
    // A veth has no queue IRQs and the host runs no libvirtd: both sections absent, with a note.
    expect(p.queues).toBeNull();
    expect(p.domains).toBeNull();
    expect(p.notes.join('\n')).toMatch(/no NIC queue IRQs/);
    expect(p.notes.join('\n')).toMatch(/libvirt is absent/);

    const text = await hvtune(['probe', '-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath, '--interval', '0.5']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^hv1: rates per second over [\d.]+ s$/m);
    expect(text.stdout).toMatch(/^ {2}NET_RX {5}cpu\d+ /m);
  });

  test('one round trip per sample', async () => {
    const l = lab();
    const h = l.hosts[0];
    const remote = await connectHost(
      { name: h.name, address: h.address, port: h.port, user: 'root', identityFile: l.keyPath },
      { knownHostsFile: l.knownHostsPath, acceptNewHostKeys: false, connectTimeoutMs: 10_000 },
    );
    try {
      const before = remote.roundTrips;
      rateShape(await probeHost(remote, remote.facts, 0.5));
      expect(remote.roundTrips - before).toBe(2);
    } finally {
      await remote.close();
    }
  });

  test('--compare shows the drop counter the test raises, rising, as worse', async () => {
    const l = lab();
    const before = join(l.dir, 'before.json');
    const after = join(l.dir, 'after.json');
    const quiet = await probe(before);
    const receiver = await l.spawn('hv1', ['/usr/bin/python3', '-c', RECEIVER]);
    let sender: Awaited<ReturnType<typeof l.spawn>> | undefined;
    try {
      sender = await l.spawn('hv1', ['/usr/bin/python3', '-c', SENDER]);
      const flooded = await probe(after);
      rateShape(flooded.hosts.hv1);
      expect(flooded.hosts.hv1.udp!.RcvbufErrors).toBeGreaterThan(quiet.hosts.hv1.udp!.RcvbufErrors);
    } finally {
      await sender?.stop();
      await receiver.stop();
    }

    const json = await hvtune(['probe', '--compare', before, after, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const { lines } = JSON.parse(json.stdout) as { lines: CompareLine[] };
    const rcvbuf = lines.find((x) => x.host === 'hv1' && x.what === 'udp RcvbufErrors/s')!;
    expect(rcvbuf.verdict).toBe('worse');
    expect(rcvbuf.after!).toBeGreaterThan(rcvbuf.before!);

    const text = await hvtune(['probe', '--compare', before, after]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^hv1:$/m);
    expect(text.stdout).toMatch(/^ {2}udp RcvbufErrors\/s +[\d.]+ → [\d.]+ +worse$/m);
  });
});

describe('hvtune probe on a lab host with a running domain', () => {
  let libvirt: LabLibvirt | undefined;
  afterAll(async () => {
    await libvirt?.stop();
  });

  test('each vCPU against its pin, and the QEMU process’s memory per node, as the host itself reports them', async () => {
    const l = lab();
    libvirt = await startLibvirt(l, 'hv1');
    await defineTcgDomain(l, 'hv1', 'probe-vm', { vcpus: 2 });
    const virsh = (...args: string[]) => l.exec('hv1', ['virsh', '-c', LIBVIRT_URI, ...args]);
    const started = await virsh('start', 'probe-vm');
    expect(started.code, started.stderr).toBe(0);
    for (const [vcpu, cpu] of [
      ['0', '0'],
      ['1', '1'],
    ])
      expect((await virsh('vcpupin', 'probe-vm', vcpu, cpu)).code).toBe(0);

    const report = await probe(join(l.dir, 'domain.json'));
    const p = report.hosts.hv1;
    const pid = Number((await l.readFile('hv1', '/run/libvirt/qemu/probe-vm.pid'))!.trim());
    expect(p.domains!.map((d) => [d.name, d.pid])).toEqual([['probe-vm', pid]]);
    const vm = p.domains![0];
    expect(vm.vcpus!.map((v) => [v.vcpu, v.pin])).toEqual([
      [0, [0]],
      [1, [1]],
    ]);
    for (const v of vm.vcpus!) expect(v.offPin).toBe(v.cpu !== null && !v.pin.includes(v.cpu));
    // No numastat here: memory per node comes from the process's numa_maps when the kernel has one.
    const numaMaps = await l.exec('hv1', ['test', '-r', `/proc/${pid}/numa_maps`]);
    if (numaMaps.code === 0) {
      expect(vm.memory!.source).toBe('numa_maps');
      expect(vm.memory!.localKiB + vm.memory!.remoteKiB).toBeGreaterThan(0);
      expect(vm.memory!.remotePercent).toBeGreaterThanOrEqual(0);
      expect(vm.memory!.remotePercent).toBeLessThanOrEqual(100);
    } else expect(vm.memory).toBeNull();
    // The pins cover CPUs 0 and 1: the vCPU cores of the summary.
    expect(p.summary.vcpuCpus).toEqual([0, 1]);
    expect(p.summary.vcpusOffPin).toBe(vm.vcpus!.filter((v) => v.offPin).length);
  });
});
