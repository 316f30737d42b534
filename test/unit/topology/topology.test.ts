import { describe, expect, it } from 'vitest';
import {
  clamp,
  coresOf,
  cpuRange,
  nearestNodes,
  nicNode,
  nodeCpus,
  nodeCpusReserved,
  oneThreadPerCore,
  parseCpuList,
  pinVm,
} from '../../../src/topology.js';
import { recorded } from './load.js';

const seed003 = recorded('seed003-2s10c-ht');
const htOff = recorded('two-socket-ht-off');
const oneSocket = recorded('one-socket-ht');
const epyc = recorded('amd-epyc-nps4');
const ALL = { 'seed003-2s10c-ht': seed003, 'two-socket-ht-off': htOff, 'one-socket-ht': oneSocket, 'amd-epyc-nps4': epyc };

describe('the seed 003 machine (2 sockets × 10 cores, HT on, X710 on node 0)', () => {
  // Its numbering, as the seed states it: socket 0 = CPUs 0-9, socket 1 = 10-19, and their
  // hyper-threads 20-29 and 30-39 (CPU n and n+20 are siblings of one core). So "11-19" is the
  // first thread of cores 11..19 of socket 1: node 1 minus its lowest core (CPU 10 with its
  // sibling 30, left to the host), one thread per core (31-39 stay idle, so the emulator/vhost
  // threads never share a core with each other's siblings). The vCPUs take 1-9 on node 0 by the
  // same rule: core 0 (CPUs 0 and 20) is the host's.
  it('pins 9 vCPUs to 1-9 and the emulator to 11-19, as the seed does by hand', () => {
    const node = nicNode(seed003, 'ens1f0');
    expect(node).toBe(0);
    expect(pinVm({ facts: seed003, node, vcpus: 9, reserve: 1 })).toEqual({
      vcpupin: { 0: '1', 1: '2', 2: '3', 3: '4', 4: '5', 5: '6', 6: '7', 7: '8', 8: '9' },
      emulatorpin: '11-19',
    });
  });

  it('has the numbering the seed describes', () => {
    expect(cpuRange(nodeCpus(seed003, 0))).toBe('0-9,20-29');
    expect(cpuRange(nodeCpus(seed003, 1))).toBe('10-19,30-39');
    expect(cpuRange(nodeCpusReserved(seed003, 0, 1))).toBe('1-9,21-29');
    expect(cpuRange(oneThreadPerCore(seed003, nodeCpusReserved(seed003, 1, 1)))).toBe('11-19');
  });

  it('uses sibling threads only when the cores run out, in core order', () => {
    const { vcpupin } = pinVm({ facts: seed003, node: 0, vcpus: 12, reserve: 1 });
    expect(Object.values(vcpupin)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '21', '22', '23']);
  });

  it('refuses more vCPUs than the node has after the reserve', () => {
    expect(() => pinVm({ facts: seed003, node: 0, vcpus: 19, reserve: 1 })).toThrow(
      'NUMA node 0 has 18 CPUs left after reserving 1 core(s) for the host, but the VM has 19 vCPUs',
    );
  });

  it('treats core_id as per-socket: cores with core_id 0 on both sockets stay apart', () => {
    expect(coresOf(seed003, [0, 10, 20, 30])).toEqual([
      [0, 20],
      [10, 30],
    ]);
  });
});

describe('HT off, 2 sockets × 16 cores, NIC on node 1 (seed 003: a 14-core VM, 14 cores for vhost)', () => {
  it('pins to the NIC node and puts the emulator on the other node', () => {
    const pins = pinVm({ facts: htOff, node: nicNode(htOff, 'ens2f0'), vcpus: 14, reserve: 1 });
    expect(Object.values(pins.vcpupin)).toEqual(['17', '18', '19', '20', '21', '22', '23', '24', '25', '26', '27', '28', '29', '30']);
    expect(pins.emulatorpin).toBe('1-15');
  });

  it('reserves whole CPUs when there are no siblings', () => {
    expect(cpuRange(nodeCpusReserved(htOff, 1, 2))).toBe('18-31');
  });
});

describe('one socket, HT on, NIC without locality', () => {
  it('answers node 0 for a NIC whose numa_node is -1 on a one-node machine', () => {
    expect(oneSocket.nics!.find((n) => n.name === 'eno1')!.numaNode).toBeNull();
    expect(nicNode(oneSocket, 'eno1')).toBe(0);
  });

  it('keeps the emulator on free cores of the same node', () => {
    expect(pinVm({ facts: oneSocket, node: 0, vcpus: 4, reserve: 1 })).toEqual({
      vcpupin: { 0: '1', 1: '2', 2: '3', 3: '4' },
      emulatorpin: '5-7',
    });
  });

  it('falls back to the host reserve when the vCPUs use every other core', () => {
    expect(pinVm({ facts: oneSocket, node: 0, vcpus: 7, reserve: 1 }).emulatorpin).toBe('0,8');
  });

  it('takes an explicit emulator CPU list', () => {
    expect(pinVm({ facts: oneSocket, node: 0, vcpus: 2, reserve: 1, emulator: '6-7,14-15' }).emulatorpin).toBe('6-7,14-15');
  });
});

describe('AMD EPYC 7542 × 2, NPS4 (8 NUMA nodes)', () => {
  it('has 8 nodes of 8 cores with their SMT threads', () => {
    expect(epyc.numa!.nodes).toHaveLength(8);
    expect(cpuRange(nodeCpus(epyc, 2))).toBe('16-23,80-87');
    expect(cpuRange(nodeCpus(epyc, 5))).toBe('40-47,104-111');
  });

  it('puts the emulator on the nearest node (same socket), not across the socket', () => {
    expect(nearestNodes(epyc, 2)).toEqual([3, 0, 1, 4, 5, 6, 7]);
    const pins = pinVm({ facts: epyc, node: nicNode(epyc, 'enp65s0f0np0'), vcpus: 6, reserve: 1 });
    expect(Object.values(pins.vcpupin)).toEqual(['17', '18', '19', '20', '21', '22']);
    expect(pins.emulatorpin).toBe('25-31');
  });

  it('takes an emulator node by number', () => {
    expect(pinVm({ facts: epyc, node: 2, vcpus: 2, reserve: 0, emulator: 6 }).emulatorpin).toBe('48-55');
  });

  it('names the nodes when a NIC has no locality on a multi-node machine', () => {
    const facts = { ...epyc, nics: epyc.nics!.map((n) => ({ ...n, numaNode: null })) };
    expect(() => nicNode(facts, 'enp65s0f0np0')).toThrow('no NUMA node (the kernel reports -1 for it) on a machine with 8 nodes');
  });
});

describe.each(Object.entries(ALL))('on %s', (_name, facts) => {
  const cores = facts.cpu!.sockets * facts.cpu!.coresPerSocket;
  const perNode = cores / facts.numa!.nodes.length;
  it.each([1, 2, Math.max(1, perNode - 1)])('never puts two of %i vCPUs on sibling threads when cores suffice', (vcpus) => {
    const used = Object.values(pinVm({ facts, node: 0, vcpus, reserve: 1 }).vcpupin).map(Number);
    const coresUsed = new Set(used.map((c) => facts.cpu!.threads.find((t) => t.id === c)!.siblings.join(',')));
    expect(coresUsed.size).toBe(used.length);
    expect(new Set(used).size).toBe(used.length);
    expect(used.every((c) => nodeCpus(facts, 0).includes(c))).toBe(true);
  });

  it('never pins vCPUs to the reserved CPUs', () => {
    const reserved = nodeCpus(facts, 0).filter((c) => !nodeCpusReserved(facts, 0, 1).includes(c));
    const used = Object.values(pinVm({ facts, node: 0, vcpus: 1, reserve: 1 }).vcpupin).map(Number);
    expect(reserved.length).toBe(facts.cpu!.threadsPerCore);
    expect(used.some((c) => reserved.includes(c))).toBe(false);
  });
});

describe('CPU lists', () => {
  it.each([
    [[1, 2, 3, 5, 7, 8], '1-3,5,7-8'],
    [[9, 3, 3, 4], '3-4,9'],
    [[], ''],
    ['0-3, 8,10-11', '0-3,8,10-11'],
    ['5', '5'],
  ])('%j in range form is %s', (input, out) => expect(cpuRange(input)).toBe(out));

  it('parses range lists, tolerating spaces and empty items', () => {
    expect(parseCpuList(' 0-2,,7 ')).toEqual([0, 1, 2, 7]);
  });

  it.each(['3-1', 'a', '1-', '1;2'])('rejects %j with a message naming the form', (bad) => {
    expect(() => cpuRange(bad)).toThrow(/CPU list/);
  });
});

describe('clamp', () => {
  it.each([
    [12, 1, 8, 8],
    [0, 1, 8, 1],
    [4, 1, 8, 4],
    ['9', '1', '8', 8],
  ])('clamp %j %j %j = %j', (x, lo, hi, out) => expect(clamp(x as number, lo as number, hi as number)).toBe(out));

  it('rejects bounds the wrong way round', () => expect(() => clamp(1, 8, 1)).toThrow('low bound 8 is above high bound 1'));
});

describe('errors name what exists', () => {
  it('unknown node', () => expect(() => nodeCpus(seed003, 5)).toThrow('zs-compute1 has no NUMA node 5 (nodes: 0, 1)'));
  it('unknown NIC', () => expect(() => nicNode(seed003, 'eth9')).toThrow('has no NIC "eth9" (NICs: ens1f0, ens1f1, lo)'));
  it('zero vCPUs', () => expect(() => pinVm({ facts: seed003, node: 0, vcpus: 0 })).toThrow('vcpus: expected 1 or more'));
});
