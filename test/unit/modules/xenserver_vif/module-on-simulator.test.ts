// xenserver_vif run against the xe simulator (no XenServer can run here): read → plan → apply →
// plan again, and the simulated host restart's netback assignment.
import { describe, expect, it } from 'vitest';
import { xenserver_vif } from '../../../../modules/xenserver_vif.js';
import { SEED_000, planOn, useSimulator, workersByVif, type Scenario } from './sim-env.js';

const sim = useSimulator();
const storageWorkers = () => {
  const w = workersByVif(sim.xe('simulator-netback'));
  return ['vm1', 'vm2', 'vm3', 'vm4'].map((vm) => w[`${vm}@storage-net`]);
};
const reboot = () => {
  sim.xe('host-disable');
  sim.xe('host-reboot');
};
const busy = [{ network: 'storage-net', weight: 1 }];

describe('xenserver_vif on the xe simulator', () => {
  it('seed 000 before: after a host restart the storage VIFs use only workers 2 and 4', () => {
    sim.seed(SEED_000);
    reboot();
    expect(storageWorkers()).toEqual([2, 4, 2, 4]);
  });

  it('all fixes allowed, VMs running: one dummy VIF on vm2, applied, read back, then zero changes', async () => {
    sim.seed(SEED_000);
    reboot();
    const host = sim.host();
    const args = { busy };
    const first = await planOn(host, args);
    expect(first.changes.map((c) => c.target)).toEqual(['network:hvtune-dummy', 'vm:vm2/vif/2']);
    expect(first.pending).toHaveLength(1);
    expect(first.warnings!.join('\n')).toContain('load per worker: 1:0 2:2 3:0 4:2  →  1:1 2:1 3:1 4:1');
    await xenserver_vif.apply(first.changes, host, args);
    const second = await planOn(host, args);
    expect(second.changes).toEqual([]);
    // running VMs still have the old assignment until the host restarts
    expect(second.pending).toHaveLength(1);
    reboot();
    const w = workersByVif(sim.xe('simulator-netback'));
    expect(['vm1/1', 'vm2/1', 'vm3/1', 'vm4/1'].map((k) => w[k]).sort()).toEqual([1, 2, 3, 4]);
    const third = await planOn(host, args);
    expect(third.changes).toEqual([]);
    expect(third.pending).toEqual([]);
  });

  it('reorder only, VMs halted: the seed swap of vm3 and vm4 gives 2, 4, 1, 3 and keeps MAC, network, MTU, other-config', async () => {
    sim.seed(SEED_000);
    const host = sim.host();
    const args = { busy, strategy: ['reorder' as const] };
    const macsBefore = sim.xe('vif-list', 'params=vm-name-label,MAC,network-name-label,MTU,other-config');
    const plan = await planOn(host, args);
    expect(plan.changes.map((c) => [c.target, c.effect, c.before, c.after])).toEqual([
      ['vm:vm3/vifs', 'persistent', '0:guest-net 1:storage-net', '0:storage-net 1:guest-net'],
      ['vm:vm4/vifs', 'persistent', '0:guest-net 1:storage-net', '0:storage-net 1:guest-net'],
    ]);
    await xenserver_vif.apply(plan.changes, host, args);
    expect((await planOn(host, args)).changes).toEqual([]);
    const sortLines = (t: string) =>
      t
        .split('\n\n\n')
        .map((r) =>
          r
            .split('\n')
            .map((l) => l.trim())
            .sort()
            .join('|'),
        )
        .sort();
    expect(sortLines(sim.xe('vif-list', 'params=vm-name-label,MAC,network-name-label,MTU,other-config'))).toEqual(sortLines(macsBefore));
    reboot();
    expect(storageWorkers()).toEqual([2, 4, 1, 3]);
  });

  it('reorder of running VMs is reported, not done, unless allow_shutdown', async () => {
    sim.seed(SEED_000);
    reboot();
    const host = sim.host();
    const strict = await planOn(host, { busy, strategy: ['reorder'] });
    expect(strict.changes).toEqual([]);
    expect(strict.warnings!.join('\n')).toMatch(/running VMs \(vm3, vm4\).*allow_shutdown: true/);
    const args = { busy, strategy: ['reorder' as const], allow_shutdown: true };
    const allowed = await planOn(host, args);
    expect(allowed.changes.map((c) => [c.target, c.effect])).toEqual([
      ['vm:vm3/vifs', 'vm-restart'],
      ['vm:vm4/vifs', 'vm-restart'],
    ]);
    await xenserver_vif.apply(allowed.changes, host, args);
    expect(
      sim.xe('vm-list', 'power-state=running', 'is-control-domain=false', 'params=name-label', '--minimal').trim().split(',').sort(),
    ).toEqual(['vm1', 'vm2', 'vm3', 'vm4']);
    expect((await planOn(host, args)).changes).toEqual([]);
  });

  it('start order: writes VM order and start-delay, read back', async () => {
    const scenario: Scenario = {
      networks: ['lan', 'storage-net'],
      vms: [
        { name: 'a', otherConfig: { auto_poweron: 'true' }, vifs: [{ network: 'storage-net' }] },
        { name: 'b', otherConfig: { auto_poweron: 'true' }, vifs: [{ network: 'lan' }] },
        { name: 'c', otherConfig: { auto_poweron: 'true' }, vifs: [{ network: 'storage-net' }] },
        { name: 'd', otherConfig: { auto_poweron: 'true' }, vifs: [{ network: 'lan' }] },
      ],
      workers: 2,
    };
    sim.seed(scenario);
    const host = sim.host();
    const args = { busy, strategy: ['start_order' as const], start_delay: 5 };
    const plan = await planOn(host, args);
    expect(plan.changes.map((c) => [c.target, c.after])).toEqual([
      ['vm:a/order', 'order=1 start-delay=5'],
      ['vm:b/order', 'order=2 start-delay=5'],
      ['vm:d/order', 'order=3 start-delay=5'],
      ['vm:c/order', 'order=4 start-delay=5'],
    ]);
    expect(plan.warnings!.join('\n')).toContain('start order: a, b, d, c');
    await xenserver_vif.apply(plan.changes, host, args);
    expect((await planOn(host, args)).changes).toEqual([]);
    expect(sim.xe('vm-param-get', 'vm=b', 'param-name=start-delay').trim()).toBe('5');
    sim.xe('host-disable');
    sim.xe('host-reboot');
    const w = workersByVif(sim.xe('simulator-netback'));
    expect([w['a@storage-net'], w['c@storage-net']]).toEqual([1, 2]);
  });

  it('a dom0 with a netback thread per queue: the plan says so and changes nothing', async () => {
    sim.seed({ ...SEED_000, linux: '4.19.0+1' });
    const plan = await planOn(sim.host(), { busy });
    expect(plan.changes).toEqual([]);
    expect(plan.warnings!.join('\n')).toContain('netback thread per queue');
  });

  it('an unknown busy network is a clear error', async () => {
    sim.seed(SEED_000);
    await expect(planOn(sim.host(), { busy: [{ network: 'nope' }] })).rejects.toThrow(
      /busy network nope not found; networks: guest-net, storage-net/,
    );
  });
});
