// playbooks/numa-pinning.yml rendered with recorded facts: the pins a user sees in the plan,
// checked against a hand computation from each machine's topology.

import { describe, expect, it } from 'vitest';
import { recorded } from '../topology/load.js';
import { loadProjectPlaybook, renderPlay, taskArgs } from './render.js';

const TASK = "vCPUs and memory on the NIC's node, emulator threads off the vCPUs' cores";
const pinsOf = async (machine: string, extra: Record<string, unknown> = {}) =>
  taskArgs(renderPlay(await loadProjectPlaybook('numa-pinning.yml'), 0, recorded(machine), extra), TASK);

describe('playbooks/numa-pinning.yml', () => {
  it("seed 003's machine (2 sockets x 10 cores, HT on, ens1f0 on node 0): vCPUs on 1-9, emulator on 11-19", async () => {
    // Node 0 = CPUs 0-9 and their hyper-threads 20-29. One core (CPU 0 and 20) stays with the
    // host; 9 vCPUs take one thread of cores 1-9. The emulator goes to node 1 (10-19, 30-39)
    // minus its reserved core 10/30, one thread per core: 11-19. Memory strictly on node 0.
    expect(await pinsOf('seed003-2s10c-ht')).toEqual({
      name: 'vm1',
      vcpus: 9,
      cputune: {
        vcpupin: { 0: '1', 1: '2', 2: '3', 3: '4', 4: '5', 5: '6', 6: '7', 7: '8', 8: '9' },
        emulatorpin: '11-19',
      },
      numatune: { mode: 'strict', nodeset: '0' },
      cpu: { mode: 'host-passthrough' },
      restart: 'never',
    });
  });

  it('two cores reserved for the host (seed 003: "one or two CPUs per node")', async () => {
    const args = await pinsOf('seed003-2s10c-ht', { vm_vcpus: 8, host_reserved_cores: 2 });
    expect(args.cputune).toEqual({
      vcpupin: { 0: '2', 1: '3', 2: '4', 3: '5', 4: '6', 5: '7', 6: '8', 7: '9' },
      emulatorpin: '12-19',
    });
  });

  it('more vCPUs than cores: the second hyper-threads are used only after every core has one', async () => {
    const args = await pinsOf('seed003-2s10c-ht', { vm_vcpus: 12 });
    expect(Object.values(args.cputune.vcpupin)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '21', '22', '23']);
  });

  it('a NIC on node 1 of a machine without hyper-threading puts everything on node 1', async () => {
    // two-socket-ht-off: node 0 = 0-15, node 1 = 16-31; ens2f0 on node 1.
    const args = await pinsOf('two-socket-ht-off', { vm_nic: 'ens2f0', vm_vcpus: 4 });
    expect(args.cputune).toEqual({ vcpupin: { 0: '17', 1: '18', 2: '19', 3: '20' }, emulatorpin: '1-15' });
    expect(args.numatune).toEqual({ mode: 'strict', nodeset: '1' });
  });

  it('AMD with 4 NUMA nodes per socket: the emulator goes to the nearest node by SLIT distance', async () => {
    // epyc1: the NIC on node 2 (CPUs 16-23 + threads); node 3 is at distance 11, the others 12 or 32.
    const args = await pinsOf('amd-epyc-nps4', { vm_nic: 'enp65s0f0np0', vm_vcpus: 4 });
    expect(args.numatune.nodeset).toBe('2');
    expect(args.cputune).toEqual({ vcpupin: { 0: '17', 1: '18', 2: '19', 3: '20' }, emulatorpin: '25-31' });
  });

  it('a VM too big for the node fails with the reason, naming the host', async () => {
    await expect(pinsOf('seed003-2s10c-ht', { vm_vcpus: 19 })).rejects.toThrow(
      /zs-compute1: NUMA node 0 has 18 CPUs left after reserving 1 core\(s\) for the host, but the VM has 19 vCPUs/,
    );
  });

  it('an unknown NIC names the NICs the host has', async () => {
    await expect(pinsOf('seed003-2s10c-ht', { vm_nic: 'eth9' })).rejects.toThrow(
      /zs-compute1 has no NIC "eth9" \(NICs: ens1f0, ens1f1, lo\)/,
    );
  });
});
