// Facts gathered through a real SSH connection from tier-1 lab hosts, checked against each host's
// own /sys and /proc (read with lab.exec, not through hvtune).

import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FACTS_SCRIPT, parseFacts, type Facts } from '../../src/facts.js';
import { hostConnector } from '../../src/commands/session.js';
import { factsCommand } from '../../src/commands/facts.js';
import { connectHost, type RemoteHost } from '../../src/host.js';
import { loadInventory } from '../../src/inventory.js';
import { LIBVIRT_URI, startLibvirt, tcgDomainXml, type LabLibvirt } from '../harness/libvirt.js';
import type { LabHost } from '../../src/demo/lab/tier1.js';
import { parseCpuList } from '../../src/topology.js';
import { useLab } from './lab.js';

const lab = useLab({ hosts: 2 });
const remotes = new Map<string, RemoteHost>();
const facts = new Map<string, Facts>();

async function hostFile(host: LabHost, path: string): Promise<string> {
  const r = await lab().exec(host, ['cat', path]);
  expect(r.code, `cat ${path} in ${host.name}`).toBe(0);
  return r.stdout.trim();
}

async function hostLines(host: LabHost, script: string): Promise<string[]> {
  const r = await lab().exec(host, ['sh', '-c', script]);
  return r.stdout.split('\n').filter(Boolean);
}

beforeAll(async () => {
  for (const host of lab().hosts) {
    const remote = await connectHost(
      { name: host.name, address: host.address, port: host.port, user: 'root', identityFile: lab().keyPath },
      { knownHostsFile: lab().knownHostsPath, acceptNewHostKeys: false, connectTimeoutMs: 10_000 },
    );
    remotes.set(host.name, remote);
    facts.set(host.name, remote.facts);
  }
});

afterAll(async () => {
  for (const r of remotes.values()) await r.close();
});

describe('facts of tier-1 hosts, against their own files', () => {
  test('hostname: each host its own', async () => {
    const names = new Set<string>();
    for (const host of lab().hosts) {
      expect(facts.get(host.name)!.hostname).toBe(await hostFile(host, '/proc/sys/kernel/hostname'));
      names.add(facts.get(host.name)!.hostname);
    }
    expect(names.size).toBe(lab().hosts.length);
  });

  test('kernel release and distribution', async () => {
    const host = lab().hosts[0];
    const f = facts.get(host.name)!;
    expect(f.kernel.release).toBe((await lab().exec(host, ['uname', '-r'])).stdout.trim());
    expect(f.kernel.version[0]).toBeGreaterThan(2);
    const osRelease = await hostFile(host, '/etc/os-release');
    expect(osRelease).toContain(`ID=${f.distribution!.id}`);
    expect(f.cmdline).toBe(await hostFile(host, '/proc/cmdline'));
  });

  test('CPUs: online list, siblings, sockets and flags', async () => {
    const host = lab().hosts[0];
    const cpu = facts.get(host.name)!.cpu!;
    const online = parseCpuList(await hostFile(host, '/sys/devices/system/cpu/online'));
    expect(cpu.online).toEqual(online);
    expect(cpu.threads.map((t) => t.id)).toEqual(online);
    for (const t of cpu.threads) {
      const dir = `/sys/devices/system/cpu/cpu${t.id}/topology`;
      expect(t.siblings).toEqual(parseCpuList(await hostFile(host, `${dir}/thread_siblings_list`)));
      expect(t.socket).toBe(Number(await hostFile(host, `${dir}/physical_package_id`)));
    }
    const packages = await hostLines(host, 'cat /sys/devices/system/cpu/cpu*/topology/physical_package_id | sort -u');
    expect(cpu.sockets).toBe(packages.length);
    const flags = (await hostLines(host, "grep -m1 '^flags' /proc/cpuinfo"))[0].split(':')[1].trim().split(/\s+/);
    expect(cpu.flags).toEqual(flags);
    expect(cpu.features.pdpe1gb).toBe(flags.includes('pdpe1gb'));
  });

  test('NUMA nodes with their CPUs and memory', async () => {
    const host = lab().hosts[0];
    const numa = facts.get(host.name)!.numa!;
    const dirs = await hostLines(host, 'cd /sys/devices/system/node && ls -d node[0-9]*');
    expect(numa.nodes.map((n) => `node${n.id}`)).toEqual(dirs);
    for (const n of numa.nodes) {
      expect(n.cpus).toEqual(parseCpuList(await hostFile(host, `/sys/devices/system/node/node${n.id}/cpulist`)));
      // MemTotal moves on this machine (free page reporting to its own hypervisor): compare within 10 %.
      const meminfo = await hostFile(host, `/sys/devices/system/node/node${n.id}/meminfo`);
      const total = Number(new RegExp(`Node ${n.id} MemTotal:\\s+(\\d+) kB`).exec(meminfo)![1]);
      expect(Math.abs(n.memTotalKiB! - total)).toBeLessThan(total / 10);
    }
  });

  test('the veth NIC: MAC, queues, virtual, no NUMA node', async () => {
    for (const host of lab().hosts) {
      const f = facts.get(host.name)!;
      const veths = await hostLines(host, "ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1");
      expect(veths.length).toBeGreaterThan(0);
      for (const name of veths) {
        const nic = f.nics!.find((n) => n.name === name)!;
        expect(nic, `NIC ${name} in facts of ${host.name}`).toBeDefined();
        expect(nic.mac).toBe(await hostFile(host, `/sys/class/net/${name}/address`));
        expect(nic.mtu).toBe(Number(await hostFile(host, `/sys/class/net/${name}/mtu`)));
        const queues = await hostLines(host, `ls /sys/class/net/${name}/queues`);
        expect(nic.rxQueues).toBe(queues.filter((q) => q.startsWith('rx-')).length);
        expect(nic.txQueues).toBe(queues.filter((q) => q.startsWith('tx-')).length);
        expect(nic).toMatchObject({ virtual: true, driver: null, pci: null, numaNode: null, ring: null });
      }
      // Only the host's own namespace shows: its veth and lo, not the machine's uplink.
      expect(f.nics!.map((n) => n.name).sort()).toEqual([...veths, 'lo'].sort());
    }
  });

  test('memory: THP mode and hugepage pools as the files say', async () => {
    const host = lab().hosts[0];
    const mem = facts.get(host.name)!.memory!;
    const thp = await hostFile(host, '/sys/kernel/mm/transparent_hugepage/enabled');
    expect(thp).toContain(`[${mem.thp!.enabled}]`);
    for (const pool of mem.hugepages.pools) {
      expect(pool.total).toBe(Number(await hostFile(host, `/sys/kernel/mm/hugepages/hugepages-${pool.sizeKiB}kB/nr_hugepages`)));
    }
  });

  test('init and boot tool of a tier-1 host: no systemd, no grub tool that can run', async () => {
    const f = facts.get(lab().hosts[0].name)!;
    expect(f.init!.system).toBe('other');
    expect(f.init!.pid1).toBe(await hostFile(lab().hosts[0], '/proc/1/comm'));
    expect(['none', 'update-grub']).toContain(f.boot!.tool);
  });

  test('the script is one round trip and quick', async () => {
    const host = lab().hosts[0];
    const remote = remotes.get(host.name)!;
    const before = remote.roundTrips;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await remote.sh(FACTS_SCRIPT);
      times.push(performance.now() - t0);
      expect(r.code).toBe(0);
      expect(parseFacts(r.stdout).hostname).toBe(host.name === facts.get(host.name)!.hostname ? host.name : facts.get(host.name)!.hostname);
    }
    expect(remote.roundTrips - before).toBe(5);
    // Inside the host, without ssh: the script's own run time.
    const inside = await lab().exec(host, [
      'sh',
      '-c',
      `a=$(date +%s%N); sh -c "$1" >/dev/null; b=$(date +%s%N); echo $(( (b - a) / 1000000 ))`,
      'sh',
      FACTS_SCRIPT,
    ]);
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `facts script: ${inside.stdout.trim()} ms inside the host; over ssh median ${sorted[2].toFixed(0)} ms (${sorted.map((t) => t.toFixed(0)).join(', ')})`,
    );
    expect(Number(inside.stdout.trim())).toBeLessThan(250);
    expect(sorted[2]).toBeLessThan(500);
  });
});

describe('a KVM host with a private libvirtd', () => {
  let libvirt: LabLibvirt | undefined;
  afterAll(async () => {
    await libvirt?.stop();
  });

  test('lists defined domains with vCPUs, memory and state', async () => {
    const host = lab().hosts[1];
    libvirt = await startLibvirt(lab(), host);
    await lab().writeFile(
      host,
      '/tmp/facts-vm1.xml',
      tcgDomainXml('facts-vm1', { disk: '/var/lib/libvirt/images/none.qcow2', vcpus: 3, memoryMiB: 96 }),
    );
    const def = await lab().exec(host, ['virsh', '-c', LIBVIRT_URI, 'define', '/tmp/facts-vm1.xml']);
    expect(def.code, def.stderr).toBe(0);
    const r = await remotes.get(host.name)!.sh(FACTS_SCRIPT);
    // CAPTURE_FACT_FIXTURES=1 records this real output for the parser tests.
    if (process.env.CAPTURE_FACT_FIXTURES) writeFileSync(new URL('../fixtures/facts/lab-tier1-libvirt.txt', import.meta.url), r.stdout);
    const f = parseFacts(r.stdout);
    expect(f.virt!.kvm.libvirtd).toBe(true);
    expect(f.domains).toEqual([
      { name: 'facts-vm1', state: 'shut off', vcpus: 3, maxVcpus: 3, memoryKiB: expect.any(Number), maxMemoryKiB: 96 * 1024 },
    ]);
    // The host's own libvirt says the same.
    const info = (await lab().exec(host, ['virsh', '-c', LIBVIRT_URI, 'dominfo', 'facts-vm1'])).stdout;
    expect(info).toMatch(/State:\s+shut off/);
    expect(info).toMatch(/CPU\(s\):\s+3/);
  });

  test('a host without libvirtd answers domains: null, not an empty list', () => {
    expect(facts.get(lab().hosts[0].name)!.domains).toBeNull();
  });
});

test('hvtune facts over the lab inventory: every host, its own hostname, exit 0', async () => {
  const inventory = loadInventory(lab().inventoryPath);
  const out: string[] = [];
  const r = await factsCommand({
    inventory,
    connect: hostConnector(inventory, { knownHosts: lab().knownHostsPath, timeout: 10 }),
    json: true,
    out: (s) => out.push(s),
  });
  expect(r.code).toBe(0);
  const printed = JSON.parse(out.join('')) as { hosts: Record<string, Facts> };
  for (const host of lab().hosts) {
    expect(printed.hosts[host.name].hostname).toBe(await hostFile(host, '/proc/sys/kernel/hostname'));
  }
});
