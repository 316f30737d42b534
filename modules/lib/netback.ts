// The netback allocation model of a fixed worker pool (XenServer 5.6-era dom0, seed 000) and the
// planner that spreads busy VIFs over every worker. Pure: no I/O.
//
// Model: after a host restart, VMs start one after another; each VIF is given to the next worker
// round-robin, VIF by VIF in device order. Workers are numbered from 1 as in the seed
// (worker N is the kernel thread netback/N-1).

export type Strategy = 'start_order' | 'reorder' | 'dummy';

export interface ModelVif {
  /** Identity within one plan (the VIF uuid). */
  key: string;
  device: number;
  network: string;
  /** Busy weight; 0 = no significant traffic. */
  weight: number;
}

export interface ModelVm {
  key: string;
  name: string;
  /** XenServer VM `order` (start order); ties are started by name. */
  order: number;
  /** VIFs may be reordered (the VM is halted, or shutting it down is allowed). */
  reorderable: boolean;
  vifs: ModelVif[];
}

/** One layout: which VMs start in which order, each VM's VIFs in device order, dummies appended. */
export interface Layout {
  startOrder: string[];
  /** vm key → its VIF keys in the new device order. */
  vifOrder: Record<string, string[]>;
  /** vm key → number of dummy VIFs appended after its VIFs. */
  dummies: Record<string, number>;
}

export interface Evaluation {
  layout: Layout;
  /** Busy weight per worker, index 0 = worker 1. */
  loads: number[];
  maxLoad: number;
  /** Sum of squared loads: lower = busy VIFs spread over more workers. */
  spread: number;
  /** vif key → worker (1-based); dummies as `<vm>#dummy<i>`. */
  workerOf: Record<string, number>;
  touched: string[];
  strategies: Strategy[];
  /** New `order` values per VM key, only for VMs whose value changes. */
  orderWrites: Record<string, number>;
}

export interface PlanOptions {
  workers: number;
  /** Allowed fixes, most preferred first. */
  strategies: Strategy[];
  /**
   * Search budget in units of work (about one per VM or worker looked at); beyond it the best plan
   * found so far is returned. Work, not time: the same input gives the same plan on any machine.
   */
  budget?: number;
}

/**
 * The default budget: about a second of search on a loaded 2-core machine, whatever the pool's
 * size, since work is counted per VM and per worker a node costs.
 */
export const DEFAULT_BUDGET = 10_000_000;

export interface NetbackPlan {
  current: Evaluation;
  best: Evaluation;
  exhaustive: boolean;
}

const EPSILON = 1e-9;

/** The start order the model assumes today: by `order`, ties by name, then key. */
export function currentStartOrder(vms: readonly ModelVm[]): ModelVm[] {
  return [...vms].sort((a, b) => a.order - b.order || cmp(a.name, b.name) || cmp(a.key, b.key));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function identityLayout(vms: readonly ModelVm[]): Layout {
  const sorted = currentStartOrder(vms);
  return {
    startOrder: sorted.map((v) => v.key),
    vifOrder: Object.fromEntries(sorted.map((v) => [v.key, byDevice(v.vifs).map((f) => f.key)])),
    dummies: Object.fromEntries(sorted.map((v) => [v.key, 0])),
  };
}

function byDevice(vifs: readonly ModelVif[]): ModelVif[] {
  return [...vifs].sort((a, b) => a.device - b.device);
}

/** Round-robin assignment of a layout: vif key → worker (1-based). */
export function assignWorkers(layout: Layout, workers: number): Record<string, number> {
  const out: Record<string, number> = {};
  let slot = 0;
  for (const vmKey of layout.startOrder) {
    for (const vifKey of layout.vifOrder[vmKey] ?? []) out[vifKey] = (slot++ % workers) + 1;
    const dummies = layout.dummies[vmKey] ?? 0;
    for (let i = 0; i < dummies; i++) out[`${vmKey}#dummy${i}`] = (slot++ % workers) + 1;
  }
  return out;
}

/**
 * New `order` values for a start order: the VMs' current values reused position by position when
 * they are distinct (so only moved VMs change), else 1..n.
 */
export function orderValues(vms: readonly ModelVm[], startOrder: readonly string[]): Record<string, number> {
  const byKey = new Map(vms.map((v) => [v.key, v]));
  const sortedValues = vms.map((v) => v.order).sort((a, b) => a - b);
  const distinct = sortedValues.every((v, i) => i === 0 || v > sortedValues[i - 1]);
  const writes: Record<string, number> = {};
  startOrder.forEach((key, i) => {
    const value = distinct ? sortedValues[i] : i + 1;
    if (byKey.get(key)!.order !== value) writes[key] = value;
  });
  const today = currentStartOrder(vms);
  const unchanged = startOrder.every((k, i) => k === today[i].key);
  return unchanged ? {} : writes;
}

export function evaluate(vms: readonly ModelVm[], layout: Layout, opts: PlanOptions): Evaluation {
  const workerOf = assignWorkers(layout, opts.workers);
  const loads = new Array<number>(opts.workers).fill(0);
  for (const vm of vms) for (const f of vm.vifs) loads[workerOf[f.key] - 1] += f.weight;
  const orderWrites = orderValues(vms, layout.startOrder);
  const touched = new Set(Object.keys(orderWrites));
  const used = new Set<Strategy>();
  if (Object.keys(orderWrites).length) used.add('start_order');
  for (const vm of vms) {
    const now = byDevice(vm.vifs).map((f) => f.key);
    if (now.some((k, i) => layout.vifOrder[vm.key][i] !== k)) {
      touched.add(vm.key);
      used.add('reorder');
    }
    if ((layout.dummies[vm.key] ?? 0) > 0) {
      touched.add(vm.key);
      used.add('dummy');
    }
  }
  return {
    layout,
    loads,
    maxLoad: Math.max(0, ...loads),
    spread: loads.reduce((s, l) => s + l * l, 0),
    workerOf,
    touched: vms.filter((v) => touched.has(v.key)).map((v) => v.key),
    strategies: opts.strategies.filter((s) => used.has(s)),
    orderWrites,
  };
}

/** Lower is better: balance first, then fewer VMs touched, then preferred strategies. */
export function compareEvaluations(a: Evaluation, b: Evaluation, preference: readonly Strategy[]): number {
  if (Math.abs(a.maxLoad - b.maxLoad) > EPSILON) return a.maxLoad - b.maxLoad;
  if (Math.abs(a.spread - b.spread) > EPSILON) return a.spread - b.spread;
  if (a.touched.length !== b.touched.length) return a.touched.length - b.touched.length;
  return strategyRank(a.strategies, preference) - strategyRank(b.strategies, preference);
}

/** A bit per strategy, the least preferred highest: avoiding a less preferred fix always wins. */
function strategyRank(used: readonly Strategy[], preference: readonly Strategy[]): number {
  return used.reduce((r, s) => r + 2 ** preference.indexOf(s), 0);
}

interface VmOption {
  vifOrder: string[];
  weights: number[];
  dummies: number;
}

/** Distinct busy patterns of a VM's VIFs (identity first), each with the fewest VIFs moved. */
function vifOrders(vm: ModelVm, allowReorder: boolean): { vifOrder: string[]; weights: number[] }[] {
  const vifs = byDevice(vm.vifs);
  const identity = { vifOrder: vifs.map((f) => f.key), weights: vifs.map((f) => f.weight) };
  if (!allowReorder || vifs.length < 2) return [identity];
  const seen = new Set<string>([identity.weights.join(',')]);
  const out = [identity];
  const permute = (prefix: number[], rest: number[]): void => {
    if (out.length >= 64) return;
    if (!rest.length) {
      const key = prefix.join(',');
      if (!seen.has(key)) {
        seen.add(key);
        out.push({ vifOrder: placeWithFewestMoves(vifs, prefix), weights: prefix });
      }
      return;
    }
    const tried = new Set<number>();
    rest.forEach((w, i) => {
      if (tried.has(w)) return;
      tried.add(w);
      permute(
        [...prefix, w],
        rest.filter((_, j) => j !== i),
      );
    });
  };
  permute([], identity.weights);
  return out;
}

function placeWithFewestMoves(vifs: ModelVif[], pattern: number[]): string[] {
  const free = new Set(vifs.map((_, i) => i));
  // a VIF already at a position of its weight stays there
  const placed: (number | undefined)[] = pattern.map((w, pos) => (vifs[pos].weight === w ? pos : undefined));
  for (const pos of placed) if (pos !== undefined) free.delete(pos);
  return pattern.map((w, pos) => {
    let i = placed[pos];
    if (i === undefined) {
      i = [...free].find((j) => vifs[j].weight === w)!;
      free.delete(i);
    }
    return vifs[i].key;
  });
}

/** Search the allowed fixes for the best-balanced layout (branch and bound, identity first). */
export function planNetback(vms: readonly ModelVm[], opts: PlanOptions): NetbackPlan {
  const W = opts.workers;
  const allow = new Set(opts.strategies);
  const current = evaluate(vms, identityLayout(vms), opts);
  let best = current;
  const ordered = currentStartOrder(vms);
  const options = new Map<string, VmOption[]>();
  for (const vm of ordered) {
    const dummyCounts = allow.has('dummy') ? [...Array(W).keys()] : [0];
    const list: VmOption[] = [];
    for (const d of dummyCounts) for (const o of vifOrders(vm, allow.has('reorder') && vm.reorderable)) list.push({ ...o, dummies: d });
    options.set(vm.key, list);
  }
  // VMs of one shape are interchangeable in the start order: the search tries one of them.
  const shapeOf = new Map(
    vms.map((vm) => [
      vm,
      `${vm.reorderable}|${byDevice(vm.vifs)
        .map((f) => f.weight)
        .join(',')}`,
    ]),
  );
  const totalWeight = vms.reduce((s, v) => s + v.vifs.reduce((t, f) => t + f.weight, 0), 0);
  // A complete layout is evaluated in full: sorts and maps over every VM and VIF, many times a node.
  const leafWork = 4 * (vms.length + vms.reduce((n, v) => n + v.vifs.length, 0));
  let work = 0;
  const budget = opts.budget ?? DEFAULT_BUDGET;
  let exhaustive = true;
  const loads = new Array<number>(W).fill(0);
  const chosenOrder: string[] = [];
  const chosen: Record<string, VmOption> = {};

  // Prune a branch that cannot beat the best plan: its final loads are at least the water-filled
  // loads (remaining busy weight poured onto the least-loaded workers), and VMs touched only grow.
  const integral = vms.every((v) => v.vifs.every((f) => Number.isInteger(f.weight)));
  // With distinct `order` values a VM started at another position always gets a new value.
  const orderIsDistinct = new Set(vms.map((v) => v.order)).size === vms.length;
  const position = new Map(ordered.map((v, i) => [v.key, i]));
  const cannotWin = (remainingWeight: number, touchedSoFar: number): boolean => {
    const { level, spread } = waterFill(loads, remainingWeight, integral);
    const maxBound = Math.max(level, ...loads);
    if (maxBound > best.maxLoad + EPSILON) return true;
    if (maxBound < best.maxLoad - EPSILON) return false;
    if (spread > best.spread + EPSILON) return true;
    return spread > best.spread - EPSILON && touchedSoFar > best.touched.length;
  };

  const visit = (remaining: ModelVm[], slot: number, remainingWeight: number, touchedSoFar: number): void => {
    // A node costs its bound (a pass over the workers) and a pass over the VMs left.
    work += 1 + W + remaining.length;
    if (work > budget) {
      exhaustive = false;
      return;
    }
    if (cannotWin(remainingWeight, touchedSoFar)) return;
    if (!remaining.length) {
      work += leafWork;
      const layout: Layout = {
        startOrder: [...chosenOrder],
        vifOrder: Object.fromEntries(chosenOrder.map((k) => [k, chosen[k].vifOrder])),
        dummies: Object.fromEntries(chosenOrder.map((k) => [k, chosen[k].dummies])),
      };
      const e = evaluate(vms, layout, opts);
      if (compareEvaluations(e, best, opts.strategies) < 0) best = e;
      return;
    }
    const candidates = allow.has('start_order') ? remaining : remaining.slice(0, 1);
    const seenShapes = new Set<string>();
    for (const vm of candidates) {
      const shape = shapeOf.get(vm)!;
      if (seenShapes.has(shape)) continue;
      seenShapes.add(shape);
      const rest = remaining.filter((v) => v !== vm);
      chosenOrder.push(vm.key);
      options.get(vm.key)!.forEach((opt, index) => {
        if (!exhaustive) return;
        opt.weights.forEach((w, i) => (loads[(slot + i) % W] += w));
        chosen[vm.key] = opt;
        const weight = opt.weights.reduce((t, w) => t + w, 0);
        // option 0 is the VM as it is (no reorder, no dummy)
        const moved = orderIsDistinct && position.get(vm.key) !== chosenOrder.length - 1;
        visit(rest, (slot + opt.weights.length + opt.dummies) % W, remainingWeight - weight, touchedSoFar + (index > 0 || moved ? 1 : 0));
        opt.weights.forEach((w, i) => (loads[(slot + i) % W] -= w));
      });
      chosenOrder.pop();
      if (!exhaustive) break;
    }
  };
  best = greedy(vms, ordered, options, opts, best);
  visit(ordered, 0, totalWeight, 0);
  return { current, best, exhaustive };
}

/** A quick first plan in today's start order: each VM takes the option that loads workers least. */
function greedy(
  vms: readonly ModelVm[],
  ordered: ModelVm[],
  options: Map<string, VmOption[]>,
  opts: PlanOptions,
  best: Evaluation,
): Evaluation {
  const W = opts.workers;
  const loads = new Array<number>(W).fill(0);
  const layout: Layout = { startOrder: ordered.map((v) => v.key), vifOrder: {}, dummies: {} };
  let slot = 0;
  for (const vm of ordered) {
    let pick = options.get(vm.key)![0];
    let pickCost = [Infinity, Infinity];
    for (const opt of options.get(vm.key)!) {
      const trial = [...loads];
      opt.weights.forEach((w, i) => (trial[(slot + i) % W] += w));
      const cost = [Math.max(...trial), trial.reduce((t, l) => t + l * l, 0)];
      if (cost[0] < pickCost[0] - EPSILON || (Math.abs(cost[0] - pickCost[0]) <= EPSILON && cost[1] < pickCost[1] - EPSILON)) {
        pick = opt;
        pickCost = cost;
      }
    }
    pick.weights.forEach((w, i) => (loads[(slot + i) % W] += w));
    layout.vifOrder[vm.key] = pick.vifOrder;
    layout.dummies[vm.key] = pick.dummies;
    slot = (slot + pick.weights.length + pick.dummies) % W;
  }
  const e = evaluate(vms, layout, opts);
  return compareEvaluations(e, best, opts.strategies) < 0 ? e : best;
}

/** Pour `amount` onto the lowest loads (continuous): the least possible max and sum of squares. */
export function waterFill(loads: readonly number[], amount: number, integral = false): { level: number; spread: number } {
  const sorted = [...loads].sort((a, b) => a - b);
  if (integral) return waterFillUnits(sorted, Math.round(amount));
  let left = amount;
  let level = sorted[0] ?? 0;
  let i = 0;
  while (left > EPSILON && i < sorted.length) {
    while (i + 1 < sorted.length && sorted[i + 1] <= level + EPSILON) i++;
    const width = i + 1;
    const next = i + 1 < sorted.length ? sorted[i + 1] : Infinity;
    const rise = Math.min(left / width, next - level);
    level += rise;
    left -= rise * width;
    if (next === Infinity) break;
  }
  const spread = sorted.reduce((t, l) => t + Math.max(l, level) ** 2, 0);
  return { level: amount > 0 ? level : 0, spread: amount > 0 ? spread : sorted.reduce((t, l) => t + l * l, 0) };
}

/**
 * Integer weights: the loads after pouring `units` one by one onto the lowest worker (a tighter,
 * still valid bound), computed in one pass over the sorted loads so that large weights cost no
 * more than small ones. The lowest k workers rise to `level`, `extra` of them one unit more.
 */
function waterFillUnits(sorted: readonly number[], units: number): { level: number; spread: number } {
  const squares = (from: number) => sorted.slice(from).reduce((t, l) => t + l * l, 0);
  if (units <= 0) return { level: 0, spread: squares(0) };
  let k = 1;
  let sum = sorted[0];
  while (k < sorted.length && units + sum >= k * sorted[k]) sum += sorted[k++];
  const level = Math.floor((units + sum) / k);
  const extra = units + sum - k * level;
  return {
    level: Math.max(sorted[sorted.length - 1], extra > 0 ? level + 1 : level),
    spread: (k - extra) * level * level + extra * (level + 1) ** 2 + squares(k),
  };
}

/** Workers that carry at least one busy VIF. */
export function busyWorkers(e: Evaluation, vms: readonly ModelVm[]): number[] {
  const set = new Set<number>();
  for (const vm of vms) for (const f of vm.vifs) if (f.weight > 0) set.add(e.workerOf[f.key]);
  return [...set].sort((a, b) => a - b);
}

/** Round-robin of the running VMs in dom-id order (their start order since the host booted). */
export function liveLoads(
  running: readonly { domid: number; vifs: readonly { device: number; weight: number }[] }[],
  workers: number,
): number[] {
  const loads = new Array<number>(workers).fill(0);
  let slot = 0;
  for (const vm of [...running].sort((a, b) => a.domid - b.domid))
    for (const f of [...vm.vifs].sort((a, b) => a.device - b.device)) loads[slot++ % workers] += f.weight;
  return loads;
}

export function spreadOf(loads: readonly number[]): number {
  return loads.reduce((s, l) => s + l * l, 0);
}

export type NetbackModel = { kind: 'pool'; workers: number | null; evidence: string } | { kind: 'per-vif' | 'per-queue'; evidence: string };

/**
 * Which netback the dom0 runs, from its kernel thread names (strongest evidence) and its kernel
 * release: a fixed pool `netback/N` (XenServer 5.6-era), a thread per VIF `vif<domid>.<dev>`
 * (Linux ≥ 3.12) or per queue `vif<domid>.<dev>-q<N>` (Linux ≥ 3.16).
 */
export function detectNetbackModel(kernelRelease: string, threadNames: readonly string[]): NetbackModel {
  const pool = new Set(threadNames.filter((t) => /^netback\/\d+$/.test(t.trim())).map((t) => t.trim()));
  if (pool.size) return { kind: 'pool', workers: pool.size, evidence: `${pool.size} netback/N kernel threads` };
  const queue = threadNames.find((t) => /^vif\d+\.\d+-q\d+/.test(t.trim()));
  if (queue) return { kind: 'per-queue', evidence: `kernel thread ${queue.trim()}` };
  const perVif = threadNames.find((t) => /^vif\d+\.\d+$/.test(t.trim()));
  if (perVif) return { kind: 'per-vif', evidence: `kernel thread ${perVif.trim()}` };
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease.trim());
  const version = m ? Number(m[1]) * 1000 + Number(m[2]) : 0;
  if (version >= 3016) return { kind: 'per-queue', evidence: `dom0 kernel ${kernelRelease.trim()} (≥ 3.16)` };
  if (version >= 3012) return { kind: 'per-vif', evidence: `dom0 kernel ${kernelRelease.trim()} (≥ 3.12)` };
  return { kind: 'pool', workers: null, evidence: `dom0 kernel ${kernelRelease.trim() || 'unknown'} (< 3.12)` };
}

/** The plan's table: VM, VIF device, network, worker before → after, and the load per worker. */
export function renderNetbackTable(vms: readonly ModelVm[], plan: NetbackPlan, dummyNetwork: string): string {
  const { current, best } = plan;
  const byKey = new Map(vms.map((v) => [v.key, v]));
  const rows: string[][] = [['VM', 'VIF', 'network', 'busy', 'worker']];
  for (const vmKey of best.layout.startOrder) {
    const vm = byKey.get(vmKey)!;
    const vifs = new Map(vm.vifs.map((f) => [f.key, f]));
    const devices = byDevice(vm.vifs).map((f) => f.device);
    best.layout.vifOrder[vmKey].forEach((key, i) => {
      const f = vifs.get(key)!;
      const device = f.device === devices[i] ? `${f.device}` : `${f.device} → ${devices[i]}`;
      rows.push([vm.name, device, f.network, f.weight ? String(f.weight) : '-', `${current.workerOf[key]} → ${best.workerOf[key]}`]);
    });
    const last = devices.length ? devices[devices.length - 1] : -1;
    for (let i = 0; i < (best.layout.dummies[vmKey] ?? 0); i++)
      rows.push([vm.name, `+${last + 1 + i}`, dummyNetwork, '-', `- → ${best.workerOf[`${vmKey}#dummy${i}`]}`]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd(),
  );
  const loads = (e: Evaluation) => e.loads.map((l, i) => `${i + 1}:${l}`).join(' ');
  const names = best.layout.startOrder.map((k) => byKey.get(k)!.name);
  return [
    `netback workers ${current.loads.length} (worker N = kernel thread netback/N-1); start order: ${names.join(', ')}`,
    ...lines,
    `load per worker: ${loads(current)}  →  ${loads(best)}`,
  ].join('\n');
}
