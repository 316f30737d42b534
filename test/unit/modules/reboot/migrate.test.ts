// evacuate: migrate at plan level, on recorded outputs: what the source says of its running domains
// (virsh dominfo and the <memoryBacking> of their XML) and what each peer has free (/proc/meminfo,
// free hugepages per size, whether its libvirt answers). Which peer takes which domain, and why.

import { describe, expect, it } from 'vitest';
import reboot from '../../../../modules/reboot.js';
import { choosePeers, parseDomainNeeds, parsePeerRoom } from '../../../../modules/lib/migration.js';
import type { PeerRead, Pending, PlanContext, ReadResult } from '../../../../src/module.js';

const dominfo = (name: string, kib: number) => `Id:             3
Name:           ${name}
UUID:           0b1c8f0e-5b0a-4c1e-9f5e-1d2c3b4a5f60
OS Type:        hvm
State:          running
CPU(s):         2
CPU time:       12.3s
Max memory:     ${kib} KiB
Used memory:    ${kib} KiB
Persistent:     yes
Autostart:      disable
Managed save:   no
Security model: none
Security DOI:   0
`;
/** The source's domain script output: web on ordinary memory, db on 1 GiB pages, cache on the default size. */
const SOURCE = `::hvtune:: domain web
${dominfo('web', 65536)}::hvtune:: domain db
${dominfo('db', 4194304)}  <memoryBacking>
    <hugepages>
      <page size='1048576' unit='KiB'/>
    </hugepages>
  </memoryBacking>
::hvtune:: domain cache
${dominfo('cache', 2097152)}  <memoryBacking>
    <hugepages/>
    <locked/>
  </memoryBacking>
`;
/** A peer script's output (recorded on a lab host, values edited per peer). */
const peerOut = (availKiB: number, free1g: number, free2m: number, libvirt = '::hvtune:: libvirt ok') => `MemAvailable:   ${availKiB} kB
Hugepagesize:       2048 kB
free /sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages ${free1g}
free /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages ${free2m}
${libvirt}
`;
const peer = (name: string, stdout: string): PeerRead => ({
  name,
  address: `10.0.0.${name.slice(2)}`,
  results: [{ kind: 'script', stdout, stderr: '', code: 0 }],
});
const NO_LIBVIRT =
  "::hvtune:: libvirt error error: failed to connect to the hypervisor error: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory";

const grub: Pending = { effect: 'reboot', target: '/etc/default/grub', summary: 'kernel arguments' };
const ARGS = { evacuate: 'migrate' as const, migrate_to: 'kvm_hosts' };
const script = (stdout: string): ReadResult => ({ kind: 'script', stdout, stderr: '', code: 0 });
/** read → parse → plan as the engine runs them, with recorded outputs and peers. */
function planWith(running: string[], peers: PeerRead[] | undefined, args: Record<string, unknown> = ARGS) {
  const ctx: PlanContext = {
    host: 'hv1',
    facts: { hostname: 'hv1', kernel: { release: '6.1.0', version: [6, 1, 0] } },
    pending: [grub],
    ...(peers ? { peers } : {}),
  };
  const results = [script(`::hvtune:: virsh\n${running.join('\n')}\n`), script(SOURCE), script('')];
  return reboot.plan(args, reboot.parse(args, results, ctx), ctx);
}

describe('what the source and the peers say', () => {
  it('domains: max memory, and hugepages of a given size or of the default size', () => {
    expect(parseDomainNeeds(SOURCE)).toEqual([
      { name: 'web', memoryKiB: 65536, hugepages: null },
      { name: 'db', memoryKiB: 4194304, hugepages: 1048576 },
      { name: 'cache', memoryKiB: 2097152, hugepages: 'default' },
    ]);
  });

  it('a peer: available memory, free pages per size; one whose libvirt does not answer cannot receive', () => {
    expect(parsePeerRoom(peer('hv2', peerOut(23319468, 2, 512)))).toEqual({
      name: 'hv2',
      address: '10.0.0.2',
      availableKiB: 23319468,
      defaultHugepageKiB: 2048,
      freeHugepages: { 1048576: 2, 2048: 512 },
      problem: null,
    });
    expect(parsePeerRoom(peer('hv3', peerOut(1, 0, 0, NO_LIBVIRT))).problem).toMatch(/^libvirt does not answer \(error: failed to connect/);
    expect(parsePeerRoom({ name: 'hv4', address: 'hv4', error: 'connect ECONNREFUSED' }).problem).toBe('connect ECONNREFUSED');
  });
});

describe('choosing the peers', () => {
  const needs = parseDomainNeeds(SOURCE);
  const uri = (p: { address: string }) => `qemu+ssh://${p.address}/system`;

  it('room: ordinary memory goes to the peer with the most available; hugepages to one with free pages of that size', () => {
    const rooms = [peer('hv2', peerOut(8388608, 4, 0)), peer('hv3', peerOut(16777216, 0, 1024))].map(parsePeerRoom);
    expect(choosePeers(needs, rooms, uri)).toEqual([
      { domain: 'web', peer: 'hv3', uri: 'qemu+ssh://10.0.0.3/system', why: '64 MiB; 16 GiB available there, the most of hv3, hv2' },
      { domain: 'db', peer: 'hv2', uri: 'qemu+ssh://10.0.0.2/system', why: '4 GiB in 1 GiB hugepages; 4 free 1 GiB pages there' },
      {
        domain: 'cache',
        peer: 'hv3',
        uri: 'qemu+ssh://10.0.0.3/system',
        why: '2 GiB in default-size hugepages; 1024 free 2 MiB pages there',
      },
    ]);
  });

  it('what one domain takes is counted before the next is placed', () => {
    const small = parseDomainNeeds(`::hvtune:: domain a\n${dominfo('a', 3145728)}::hvtune:: domain b\n${dominfo('b', 3145728)}`);
    const rooms = [peer('hv2', peerOut(5242880, 0, 0)), peer('hv3', peerOut(4194304, 0, 0))].map(parsePeerRoom);
    expect(choosePeers(small, rooms, uri).map((m) => m.peer)).toEqual(['hv2', 'hv3']);
  });

  it('no peer with room: an error naming the domain and every peer’s room, unreachable ones with why', () => {
    const rooms = [peer('hv2', peerOut(8388608, 1, 0)), peer('hv3', peerOut(1, 0, 0, NO_LIBVIRT))].map(parsePeerRoom);
    expect(() => choosePeers(needs, rooms, uri)).toThrow(
      /^no peer has room for db \(4 GiB in 1 GiB hugepages\): hv2: 1 free 1 GiB pages; hv3: libvirt does not answer/,
    );
  });
});

describe('reboot plan with evacuate: migrate', () => {
  const peers = [peer('hv2', peerOut(8388608, 4, 0)), peer('hv3', peerOut(16777216, 0, 1024))];

  it('the change names each move and why; after the reboot the domains are where they went', () => {
    const [c] = planWith(['web', 'db', 'cache'], peers).changes;
    expect(c.summary).toBe(
      'reboot hv1: /etc/default/grub; migrate web to hv3 (64 MiB; 16 GiB available there, the most of hv3, hv2), ' +
        'db to hv2 (4 GiB in 1 GiB hugepages; 4 free 1 GiB pages there), ' +
        'cache to hv3 (2 GiB in default-size hugepages; 1024 free 2 MiB pages there) first',
    );
    expect(c.after).toBe('rebooted, pending items live; web on hv3, db on hv2, cache on hv3');
    expect((c.data as { migrations: { uri: string }[] }).migrations.map((m) => m.uri)).toEqual([
      'qemu+ssh://10.0.0.3/system',
      'qemu+ssh://10.0.0.2/system',
      'qemu+ssh://10.0.0.3/system',
    ]);
  });

  it('migrate_uri: {peer} and {address} per peer; the fallback is said', () => {
    const args = { ...ARGS, migrate_uri: 'qemu+tls://{peer}.example/system?x={address}', migrate_fallback: 'shutdown' };
    const [c] = planWith(['web'], peers, args).changes;
    expect((c.data as { migrations: { uri: string }[] }).migrations[0].uri).toBe('qemu+tls://hv3.example/system?x=10.0.0.3');
    expect(c.summary).toMatch(/ first; what fails to move is shut down and started again after$/);
  });

  it('no peer with room: the task fails and plans no reboot', () => {
    const tight = [peer('hv2', peerOut(8388608, 1, 0))];
    expect(() => planWith(['db'], tight)).toThrow(
      /^hv1: no peer has room for db \(4 GiB in 1 GiB hugepages\): hv2: 1 free 1 GiB pages; not rebooting$/,
    );
  });

  it('no peer outside the batch, or no peers given at all (a saved plan): refused, not rebooted', () => {
    expect(() => planWith(['web'], [])).toThrow(/migrate_to "kvm_hosts" names no host outside this host's batch/);
    expect(() => planWith(['web'], undefined)).toThrow(
      /evacuate: migrate chooses among the inventory's hosts, which only hvtune play reads/,
    );
  });

  it('nothing running: a plain reboot, peers not needed', () => {
    expect(planWith([], undefined).changes[0].summary).toBe('reboot hv1: /etc/default/grub');
  });

  it('the migrate_* arguments belong to evacuate: migrate', () => {
    expect(reboot.validate!({ evacuate: 'shutdown', migrate_to: 'x' })).toEqual([
      { path: 'migrate_to', message: 'migrate_to is used only with evacuate: migrate' },
    ]);
    expect(reboot.validate!(ARGS)).toEqual([]);
  });
});

describe('reboot plan on a XenServer host', () => {
  const xenRead = (host: string, vms: string) => [script('::hvtune:: xe\n'), script(''), script(`::hvtune:: host ${host}\n${vms}\n`)];
  const ctx: PlanContext = { host: 'xs1', facts: { hostname: 'xs1', kernel: { release: '4.19', version: [4, 19, 0] } }, pending: [grub] };
  const args = { evacuate: 'migrate' as const };

  it('evacuate: migrate — disabled, evacuated by the pool, enabled after; the VMs it moves are named', () => {
    const [c] = reboot.plan(args, reboot.parse(args, xenRead('6f1e', 'db,web'), ctx), ctx).changes;
    expect(c.summary).toBe(
      'reboot xs1: /etc/default/grub; disable it in the pool and move db, web to other hosts of the pool (xe host-evacuate) first, enable it after',
    );
    expect(c.data).toEqual({ domains: [], xen: { uuid: '6f1e', vms: ['db', 'web'] } });
  });

  it('its own uuid unknown (no /etc/xensource-inventory): refused', () => {
    expect(() => reboot.plan(args, reboot.parse(args, xenRead('', ''), ctx), ctx)).toThrow(
      /xs1: a XenServer host whose uuid is unknown \(INSTALLATION_UUID in \/etc\/xensource-inventory\); not rebooting/,
    );
  });
});
