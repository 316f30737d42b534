// Property tests over random layouts (seeded PRNG, so a failure reproduces): the chosen plan never
// leaves a worker idle while another carries two or more busy VIFs, when the allowed fixes can avoid it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  assignWorkers,
  currentStartOrder,
  planNetback,
  type Layout,
  type ModelVm,
  type Strategy,
  waterFill,
} from '../../../../modules/lib/netback.js';

/** mulberry32: small, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  vms: ModelVm[];
  workers: number;
  strategies: Strategy[];
}

function randomCase(rand: () => number): Case {
  const pick = (n: number) => Math.floor(rand() * n);
  const workers = 2 + pick(3);
  const vms: ModelVm[] = Array.from({ length: 1 + pick(4) }, (_, v) => ({
    key: `vm${v}`,
    name: `vm${v}`,
    order: pick(3),
    reorderable: rand() < 0.7,
    vifs: Array.from({ length: 1 + pick(3) }, (_, d) => ({
      key: `vm${v}-${d}`,
      device: d,
      network: `net${d}`,
      weight: rand() < 0.45 ? 1 : 0,
    })),
  }));
  const all: Strategy[] = ['start_order', 'reorder', 'dummy'];
  let strategies = all.filter(() => rand() < 0.6);
  if (!strategies.length) strategies = [all[pick(3)]];
  return { vms, workers, strategies };
}

function busyCounts(vms: ModelVm[], workerOf: Record<string, number>, workers: number): number[] {
  const counts = new Array<number>(workers).fill(0);
  for (const vm of vms) for (const f of vm.vifs) if (f.weight > 0) counts[workerOf[f.key] - 1]++;
  return counts;
}

const idleWhileCrowded = (counts: number[]): boolean => counts.some((c) => c === 0) && counts.some((c) => c >= 2);

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) => permutations(items.filter((_, j) => j !== i)).map((p) => [x, ...p]));
}

/** Independent oracle: every layout the allowed fixes reach, by brute force; true if one avoids it. */
function avoidable({ vms, workers, strategies }: Case): boolean {
  const allow = new Set(strategies);
  const orders = allow.has('start_order') ? permutations(vms) : [currentStartOrder(vms)];
  const perVm = (vm: ModelVm) => {
    const base = [...vm.vifs].sort((a, b) => a.device - b.device).map((f) => f.key);
    const arrangements = allow.has('reorder') && vm.reorderable ? permutations(base) : [base];
    const dummies = allow.has('dummy') ? [...Array(workers).keys()] : [0];
    return arrangements.flatMap((a) => dummies.map((d) => ({ a, d })));
  };
  for (const order of orders) {
    const choices = order.map(perVm);
    const idx = new Array<number>(order.length).fill(0);
    for (;;) {
      const layout: Layout = { startOrder: order.map((v) => v.key), vifOrder: {}, dummies: {} };
      order.forEach((vm, i) => {
        layout.vifOrder[vm.key] = choices[i][idx[i]].a;
        layout.dummies[vm.key] = choices[i][idx[i]].d;
      });
      if (!idleWhileCrowded(busyCounts(vms, assignWorkers(layout, workers), workers))) return true;
      let i = 0;
      while (i < idx.length && ++idx[i] === choices[i].length) idx[i++] = 0;
      if (i === idx.length) break;
    }
  }
  return false;
}

describe('netback planner properties (seeded random layouts)', () => {
  const rand = prng(0x5eed000);
  const cases = Array.from({ length: 250 }, () => randomCase(rand));

  it.each(cases.map((c, i) => [i, c] as const))('case %i', (_i, c) => {
    const { best, current, exhaustive } = planNetback(c.vms, { workers: c.workers, strategies: c.strategies });
    expect(exhaustive).toBe(true);
    // never worse than doing nothing
    expect(best.maxLoad).toBeLessThanOrEqual(current.maxLoad);
    // only allowed fixes are used, and a VM that may not be shut down keeps its VIF order
    for (const s of best.strategies) expect(c.strategies).toContain(s);
    for (const vm of c.vms.filter((v) => !v.reorderable)) {
      expect(best.layout.vifOrder[vm.key]).toEqual(current.layout.vifOrder[vm.key]);
    }
    if (avoidable(c)) {
      expect(idleWhileCrowded(busyCounts(c.vms, best.workerOf, c.workers))).toBe(false);
    }
    // a balanced layout needs no change
    if (
      !idleWhileCrowded(busyCounts(c.vms, current.workerOf, c.workers)) &&
      current.maxLoad === best.maxLoad &&
      current.spread === best.spread
    ) {
      expect(best.touched).toEqual([]);
    }
  });

  it('the oracle is not vacuous: some cases are fixable and some are not already balanced', () => {
    const crowded = cases.filter((c) => {
      const { current } = planNetback(c.vms, { workers: c.workers, strategies: c.strategies });
      return idleWhileCrowded(busyCounts(c.vms, current.workerOf, c.workers));
    });
    expect(crowded.length).toBeGreaterThan(20);
    expect(crowded.filter(avoidable).length).toBeGreaterThan(10);
  });
});

describe('large pools', () => {
  const pool = (): ModelVm[] =>
    Array.from({ length: 30 }, (_, v) => ({
      key: `vm${v}`,
      name: `vm${String(v).padStart(2, '0')}`,
      order: 0,
      reorderable: true,
      vifs: [0, 1, 2].map((d) => ({ key: `vm${v}-${d}`, device: d, network: `n${d}`, weight: d === (v % 3 === 0 ? 1 : 2) ? 1 : 0 })),
    }));
  const all: Strategy[] = ['start_order', 'reorder', 'dummy'];

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('30 VMs × 3 VIFs plan within the work limit in seconds, balanced as far as possible', () => {
    const started = Date.now();
    const { current, best, exhaustive } = planNetback(pool(), { workers: 4, strategies: all });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(exhaustive).toBe(false); // the search is cut short: what follows must not depend on when
    expect(current.loads).toEqual([7, 9, 8, 6]);
    expect([...best.loads].sort()).toEqual([7, 7, 8, 8]); // 30 busy VIFs on 4 workers: 8 at most
  });

  /** A pool whose search keeps finding better plans late: where it stops decides the plan. */
  function mixedPool(seed: number): { vms: ModelVm[]; workers: number } {
    const rand = prng(seed);
    const pick = (n: number) => Math.floor(rand() * n);
    const n = 20 + pick(20);
    const workers = 3 + pick(6);
    const vms = Array.from({ length: n }, (_, v) => ({
      key: `vm${v}`,
      name: `vm${String(v).padStart(2, '0')}`,
      order: pick(5),
      reorderable: rand() < 0.5,
      vifs: Array.from({ length: 1 + pick(4) }, (_, d) => ({
        key: `vm${v}-${d}`,
        device: d,
        network: `n${d}`,
        weight: rand() < 0.4 ? 1 + pick(3) : 0,
      })),
    }));
    return { vms, workers };
  }

  it('a slow clock (a loaded machine) gives exactly the same plan: the search never reads it', () => {
    const { vms, workers } = mixedPool(13);
    const normal = planNetback(vms, { workers, strategies: ['dummy'] });
    expect(normal.exhaustive).toBe(false);
    // here a search stopped early plans differently, so a stop by the clock would show
    expect(planNetback(vms, { workers, strategies: ['dummy'], budget: 20_000 }).best.maxLoad).toBeGreaterThan(normal.best.maxLoad);
    let now = Date.now();
    vi.spyOn(Date, 'now').mockImplementation(() => (now += 1000));
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 1000));
    expect(planNetback(vms, { workers, strategies: ['dummy'] })).toEqual(normal);
  });

  it('a smaller budget stops sooner, and at the same place every time', () => {
    const small = () => planNetback(pool(), { workers: 4, strategies: all, budget: 50_000 });
    const first = small();
    expect(first.exhaustive).toBe(false);
    expect(small()).toEqual(first);
  });

  it('large integer weights cost no more work than weight 1 (the bound pours them in one pass)', () => {
    const heavy = pool().map((vm) => ({ ...vm, vifs: vm.vifs.map((f) => ({ ...f, weight: f.weight * 100_000 })) }));
    const started = Date.now();
    const { best } = planNetback(heavy, { workers: 4, strategies: all });
    expect(Date.now() - started).toBeLessThan(5000);
    expect([...best.loads].sort()).toEqual([700_000, 700_000, 800_000, 800_000]);
  });
});

describe('waterFill (the search bound)', () => {
  it('pours onto the lowest workers; integer weights fill unit by unit', () => {
    expect(waterFill([0, 2, 4], 3)).toEqual({ level: 2.5, spread: 2.5 ** 2 * 2 + 16 });
    expect(waterFill([0, 2, 4], 3, true)).toEqual({ level: 4, spread: 2 * 2 + 3 * 3 + 16 });
    expect(waterFill([1, 1], 0)).toEqual({ level: 0, spread: 2 });
  });

  it('integer pouring in one pass equals pouring unit by unit', () => {
    const byUnits = (loads: number[], amount: number) => {
      const l = [...loads];
      for (let u = 0; u < amount; u++) l[l.indexOf(Math.min(...l))] += 1;
      return { level: amount > 0 ? Math.max(...l) : 0, spread: l.reduce((t, x) => t + x * x, 0) };
    };
    const rand = prng(0xf111);
    for (let n = 0; n < 500; n++) {
      const loads = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => Math.floor(rand() * 10));
      const amount = Math.floor(rand() * 25);
      expect(waterFill(loads, amount, true), `${loads} + ${amount}`).toEqual(byUnits(loads, amount));
    }
  });
});
