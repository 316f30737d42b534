// Seed 000's worked example: 4 VMs × 2 VIFs, 4 netback workers, traffic on every second VIF.
import { describe, expect, it } from 'vitest';
import {
  assignWorkers,
  busyWorkers,
  evaluate,
  identityLayout,
  planNetback,
  type Layout,
  type ModelVm,
  type Strategy,
} from '../../../../modules/lib/netback.js';

function seedVms(reorderable = true): ModelVm[] {
  return [1, 2, 3, 4].map((n) => ({
    key: `vm${n}`,
    name: `vm${n}`,
    order: 0,
    reorderable,
    vifs: [
      { key: `vm${n}-eth0`, device: 0, network: 'guest-net', weight: 0 },
      { key: `vm${n}-eth1`, device: 1, network: 'storage-net', weight: 1 },
    ],
  }));
}

const second = (workerOf: Record<string, number>): number[] => [1, 2, 3, 4].map((n) => workerOf[`vm${n}-eth1`]);
const opts = (strategies: Strategy[]) => ({ workers: 4, strategies });

describe('seed 000 worked example', () => {
  it('before: the second VIFs share workers 2 and 4, so only 2 of 4 workers are busy', () => {
    const vms = seedVms();
    const e = evaluate(vms, identityLayout(vms), opts(['dummy']));
    expect(second(e.workerOf)).toEqual([2, 4, 2, 4]);
    expect(busyWorkers(e, vms)).toEqual([2, 4]);
    expect(e.loads).toEqual([0, 2, 0, 2]);
  });

  it('fix 1: one dummy VIF per VM puts the second VIFs on workers 2, 1, 4, 3', () => {
    const layout: Layout = { ...identityLayout(seedVms()), dummies: { vm1: 1, vm2: 1, vm3: 1, vm4: 1 } };
    expect(second(assignWorkers(layout, 4))).toEqual([2, 1, 4, 3]);
  });

  it('fix 2: swapping the two VIFs of the third and fourth VMs gives 2, 4, 1, 3', () => {
    const base = identityLayout(seedVms());
    const layout: Layout = {
      ...base,
      vifOrder: { ...base.vifOrder, vm3: ['vm3-eth1', 'vm3-eth0'], vm4: ['vm4-eth1', 'vm4-eth0'] },
    };
    expect(second(assignWorkers(layout, 4))).toEqual([2, 4, 1, 3]);
  });

  it('with every fix allowed, one dummy VIF on the second VM is enough (1 VM touched, not 2 or 4)', () => {
    const vms = seedVms();
    const { best, exhaustive } = planNetback(vms, opts(['start_order', 'reorder', 'dummy']));
    expect(exhaustive).toBe(true);
    expect(best.loads).toEqual([1, 1, 1, 1]);
    expect(best.strategies).toEqual(['dummy']);
    expect(best.touched).toEqual(['vm2']);
    expect(best.layout.dummies).toEqual({ vm1: 0, vm2: 1, vm3: 0, vm4: 0 });
    expect(second(best.workerOf)).toEqual([2, 4, 3, 1]);
  });

  it('the planner reproduces the swap of the third and fourth VMs exactly', () => {
    const vms = seedVms();
    const { best } = planNetback(vms, opts(['reorder']));
    expect(best.touched).toEqual(['vm3', 'vm4']);
    expect(second(best.workerOf)).toEqual([2, 4, 1, 3]);
  });

  it('with dummies only, the planner balances all four workers', () => {
    const vms = seedVms();
    const { best } = planNetback(vms, opts(['dummy']));
    expect(best.loads).toEqual([1, 1, 1, 1]);
    expect(best.strategies).toEqual(['dummy']);
  });

  it('start order alone cannot help: every VM has the same shape', () => {
    const vms = seedVms();
    const { best, current } = planNetback(vms, opts(['start_order']));
    expect(best).toBe(current);
    expect(best.touched).toEqual([]);
  });

  it('running VMs that may not be shut down are not reordered', () => {
    const vms = seedVms(false);
    const { best } = planNetback(vms, opts(['reorder', 'dummy']));
    expect(best.strategies).toEqual(['dummy']);
    expect(best.loads).toEqual([1, 1, 1, 1]);
  });
});
