// The host's combined desired state as cross-checks read it: what the planned tasks ask for, over
// what they read on the host (when planned on one), over the facts. Each view says which task set
// what it reports, so a problem points at the line that causes it. Pure.

import type { Facts } from '../../../src/facts.js';
import type { CrossCheckInput, CrossTask } from '../../../src/module.js';
import { globMatch, isGlob } from '../../../src/glob.js';
import { absentMatches, argKey, argValue, splitCmdline } from '../cmdline.js';
import { children, memoryKiB, parseDomainXml, type DomainTuning } from '../domain-xml.js';

export const tasksOf = (input: CrossCheckInput, module: string) => input.tasks.filter((t) => t.module === module);

const GiB = 1024 * 1024;

/** 16777216 → "16 GiB", 3774873 → "3.6 GiB", 524288 → "512 MiB" (sizes in KiB). */
export function formatKiB(kib: number): string {
  if (kib >= GiB) return kib % GiB === 0 ? `${kib / GiB} GiB` : `${(kib / GiB).toFixed(1)} GiB`;
  if (kib >= 1024) return kib % 1024 === 0 ? `${kib / 1024} MiB` : `${(kib / 1024).toFixed(1)} MiB`;
  return `${kib} KiB`;
}

/** A huge page size as the kernel's documentation writes it: 1048576 → "1G", 2048 → "2M". */
export function pageName(kib: number): string {
  return kib % GiB === 0 ? `${kib / GiB}G` : kib % 1024 === 0 ? `${kib / 1024}M` : `${kib}K`;
}

/** `hugepagesz=` values: "1G", "2M", "1GB" (dated), "2048K", bytes → KiB; null when unreadable. */
export function parsePageSize(text: string): number | null {
  const m = /^(\d+)\s*([KMG]?)B?$/i.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2].toUpperCase();
  return unit === 'G' ? n * GiB : unit === 'M' ? n * 1024 : unit === 'K' ? n : Math.floor(n / 1024);
}

// ---- the kernel command line after the next boot ---------------------------------------------

const HUGEPAGE_ARGS = new Set(['hugepages', 'hugepagesz', 'default_hugepagesz']);

interface GrubArgs {
  present?: string[];
  absent?: string[];
}

/**
 * The command line the next boot gets: the running one (facts) with every grub_cmdline task's
 * `absent` and `present` applied as that module does (a key at most once, replaced in place).
 * `hugepageTask`: the last task that changes a huge page argument, null when none does.
 */
export function bootCmdline(input: CrossCheckInput): { args: string[]; hugepageTask: CrossTask | null } {
  let args = splitCmdline(input.facts.cmdline ?? '');
  let hugepageTask: CrossTask | null = null;
  for (const t of tasksOf(input, 'grub_cmdline')) {
    const a = t.args as GrubArgs;
    const before = args.join(' ');
    for (const spec of a.absent ?? []) args = args.filter((arg) => !absentMatches(spec, arg));
    for (const arg of a.present ?? []) {
      const at = args.findIndex((x) => argKey(x) === argKey(arg));
      if (at === -1) args.push(arg);
      else args = [...args.slice(0, at), arg, ...args.slice(at + 1).filter((x) => argKey(x) !== argKey(arg))];
    }
    const touches = [...(a.present ?? []), ...(a.absent ?? [])].some((x) => HUGEPAGE_ARGS.has(argKey(x)));
    if (touches && args.join(' ') !== before) hugepageTask = t;
  }
  return { args, hugepageTask };
}

// ---- huge page pools ------------------------------------------------------------------------------

export interface Pool {
  sizeKiB: number;
  /** pages per NUMA node, in the order of facts.numa.nodes; [total] on a host without NUMA facts */
  perNode: number[];
  /** where the count comes from, for messages: "the boot pool (hugepages=16, split over 2 nodes)" */
  how: string;
  /** the task that sets it; null = the pool as the host has it now */
  task: CrossTask | null;
}

export const poolTotal = (p: Pool) => p.perNode.reduce((a, b) => a + b, 0);

/** How the kernel spreads a pool over nodes at boot and through vm.nr_hugepages: round-robin. */
function split(count: number, nodes: number): number[] {
  return Array.from({ length: nodes }, (_, i) => Math.floor(count / nodes) + (i < count % nodes ? 1 : 0));
}

const nodeIds = (facts: Facts) => (facts.numa?.nodes.length ? facts.numa.nodes.map((n) => n.id) : [0]);

/** The default huge page size after the next boot (default_hugepagesz=), else the running one. */
export function defaultPageKiB(input: CrossCheckInput, cmdline = bootCmdline(input).args): number {
  const arg = [...cmdline].reverse().find((a) => argKey(a) === 'default_hugepagesz');
  const fromCmdline = arg ? parsePageSize(argValue(arg) ?? '') : null;
  return fromCmdline ?? input.facts.memory?.hugepages.defaultSizeKiB ?? 2048;
}

/** The pools the host has now, from facts: size → pool. */
export function currentPools(facts: Facts): Map<number, Pool> {
  const ids = nodeIds(facts);
  const pools = new Map<number, Pool>();
  for (const p of facts.memory?.hugepages.pools ?? []) {
    const perNode = facts.numa?.nodes.length ? facts.numa.nodes.map((n) => n.hugepages[String(p.sizeKiB)]?.total ?? 0) : [p.total];
    pools.set(p.sizeKiB, {
      sizeKiB: p.sizeKiB,
      perNode: ids.length === perNode.length ? perNode : [p.total],
      how: 'the host pool',
      task: null,
    });
  }
  return pools;
}

const NODE_POOL = /^\/sys\/devices\/system\/node\/node(\d+)\/hugepages\/hugepages-(\d+)kB\/nr_hugepages$/;
const GLOBAL_POOL = /^\/sys\/kernel\/mm\/hugepages\/hugepages-(\d+)kB\/nr_hugepages$/;

/**
 * The pools once the plan is applied and the host rebooted, size → pool: the boot command line
 * (when a task changes its huge page arguments), then vm.nr_hugepages of sysctl tasks, then
 * nr_hugepages written by sysfs tasks — the order in which a booting host applies them.
 */
export function desiredPools(input: CrossCheckInput): Map<number, Pool> {
  const { facts } = input;
  const ids = nodeIds(facts);
  const n = ids.length;
  const pools = currentPools(facts);
  const cmdline = bootCmdline(input);
  const defaultKiB = defaultPageKiB(input, cmdline.args);
  if (cmdline.hugepageTask) {
    let size = defaultKiB;
    const seen = new Set<number>();
    for (const arg of cmdline.args) {
      const key = argKey(arg);
      const value = argValue(arg) ?? '';
      if (key === 'hugepagesz') size = parsePageSize(value) ?? size;
      if (key !== 'hugepages') continue;
      seen.add(size);
      if (value.includes(':')) {
        // hugepages=0:16,1:0 — a pool per node (Linux 5.16+)
        const perNode = ids.map(() => 0);
        for (const item of value.split(',')) {
          const [node, count] = item.split(':').map(Number);
          const at = ids.indexOf(node);
          if (at !== -1 && Number.isFinite(count)) perNode[at] = count;
        }
        pools.set(size, { sizeKiB: size, perNode, how: `the boot pool (hugepages=${value})`, task: cmdline.hugepageTask });
      } else {
        const count = Number(value) || 0;
        const how = n > 1 ? `the boot pool (hugepages=${count}, split over ${n} nodes)` : `the boot pool (hugepages=${count})`;
        pools.set(size, { sizeKiB: size, perNode: split(count, n), how, task: cmdline.hugepageTask });
      }
    }
    // a boot pool the command line no longer asks for is gone after the reboot
    for (const [size, p] of pools)
      if (!seen.has(size) && p.task === null && p.how === 'the host pool' && bootHadPool(facts, size)) pools.delete(size);
  }
  for (const t of tasksOf(input, 'sysctl')) {
    const value = (t.args as { values?: Record<string, unknown> }).values?.['vm.nr_hugepages'];
    if (value === undefined) continue;
    const count = Number(value) || 0;
    const how = n > 1 ? `vm.nr_hugepages=${count} (split over ${n} nodes)` : `vm.nr_hugepages=${count}`;
    pools.set(defaultKiB, { sizeKiB: defaultKiB, perNode: split(count, n), how, task: t });
  }
  for (const t of tasksOf(input, 'sysfs')) {
    const a = t.args as { path?: string; value?: unknown };
    if (typeof a.path !== 'string') continue;
    const global = GLOBAL_POOL.exec(a.path);
    const node = NODE_POOL.exec(a.path);
    const count = Number(a.value) || 0;
    if (global) {
      const size = Number(global[1]);
      pools.set(size, { sizeKiB: size, perNode: split(count, n), how: `${a.path} = ${count}`, task: t });
    } else if (node) {
      const size = Number(node[2]);
      const at = ids.indexOf(Number(node[1]));
      if (at === -1) continue;
      const p = pools.get(size) ?? { sizeKiB: size, perNode: ids.map(() => 0), how: '', task: t };
      const perNode = [...p.perNode];
      perNode[at] = count;
      pools.set(size, { sizeKiB: size, perNode, how: `${a.path} = ${count}`, task: t });
    }
  }
  return pools;
}

/** Did the running kernel's command line reserve a pool of this size? */
function bootHadPool(facts: Facts, sizeKiB: number): boolean {
  let size = facts.memory?.hugepages.defaultSizeKiB ?? 2048;
  for (const arg of splitCmdline(facts.cmdline ?? '')) {
    if (argKey(arg) === 'hugepagesz') size = parsePageSize(argValue(arg) ?? '') ?? size;
    if (argKey(arg) === 'hugepages' && size === sizeKiB) return true;
  }
  return false;
}

// ---- libvirt domains -----------------------------------------------------------------------------

export interface DomainView {
  name: string;
  /** the memory the domain starts with; null when neither a read nor the facts say */
  memoryKiB: number | null;
  hugepages: boolean;
  numatune: { mode: string | null; nodeset: string | null };
  /** static pins the playbook asks for */
  vcpupin: Record<string, string>;
  emulatorpin: string | null;
  blkioWeight: number | null;
  hardLimitKiB: number | null;
  /** the last task that set each part, for positions */
  task: CrossTask;
  tasks: { numatune?: CrossTask; pins?: CrossTask; blkiotune?: CrossTask; memtune?: CrossTask; hugepages?: CrossTask };
}

interface DomainObservedLike {
  domains?: { name: string; persisted: string }[];
}

/** What the domain's persisted XML says now (what its next start uses). */
function fromXml(xml: string): Partial<DomainView> {
  let doc: ReturnType<typeof parseDomainXml>;
  try {
    doc = parseDomainXml(xml);
  } catch {
    return {};
  }
  const root = doc.documentElement as unknown as Parameters<typeof children>[0];
  const one = (parent: typeof root | undefined, tag: string) => (parent ? children(parent, tag)[0] : undefined);
  const size = (el: typeof root | undefined) => {
    if (!el) return null;
    try {
      return memoryKiB((el.textContent ?? '').trim(), el.getAttribute('unit') || 'KiB');
    } catch {
      return null;
    }
  };
  const numatune = one(root, 'numatune');
  const numa = one(numatune, 'memory');
  // seed 003 binds each guest cell (<memnode cellid=… mode=… nodeset=…/>): taken together here
  const memnodes = numatune ? children(numatune, 'memnode') : [];
  const nodesets = memnodes.map((m) => m.getAttribute('nodeset')).filter(Boolean);
  const weight = one(one(root, 'blkiotune'), 'weight');
  return {
    memoryKiB: size(one(root, 'memory')),
    hugepages: one(one(root, 'memoryBacking'), 'hugepages') !== undefined,
    numatune: numa
      ? { mode: numa.getAttribute('mode') || 'strict', nodeset: numa.getAttribute('nodeset') || null }
      : {
          mode: memnodes[0]?.getAttribute('mode') || (memnodes.length ? 'strict' : null),
          nodeset: nodesets.length ? nodesets.join(',') : null,
        },
    blkioWeight: weight ? Number((weight.textContent ?? '').trim()) || null : null,
    hardLimitKiB: size(one(one(root, 'memtune'), 'hard_limit')),
  };
}

/** The domains the libvirt_domain tasks tune, each with its settings after the plan. */
export function domainViews(input: CrossCheckInput): DomainView[] {
  const views = new Map<string, DomainView>();
  for (const t of tasksOf(input, 'libvirt_domain')) {
    const args = t.args as DomainTuning & { name: string | string[] };
    const patterns = Array.isArray(args.name) ? args.name : [args.name];
    const observed = (t.observed as DomainObservedLike | undefined)?.domains;
    const known = observed?.map((d) => ({ name: d.name, xml: d.persisted }));
    const facts = (input.facts.domains ?? []).map((d) => ({ name: d.name, memory: d.maxMemoryKiB ?? d.memoryKiB }));
    const names = known
      ? known.map((d) => d.name)
      : [
          ...new Set([
            ...facts.filter((d) => patterns.some((p) => globMatch(p, d.name))).map((d) => d.name),
            ...patterns.filter((p) => !isGlob(p)),
          ]),
        ];
    for (const name of names) {
      let view = views.get(name);
      if (!view) {
        const xml = known?.find((d) => d.name === name)?.xml;
        const base = xml ? fromXml(xml) : {};
        view = {
          name,
          memoryKiB: base.memoryKiB ?? facts.find((d) => d.name === name)?.memory ?? null,
          hugepages: base.hugepages ?? false,
          numatune: base.numatune ?? { mode: null, nodeset: null },
          vcpupin: {},
          emulatorpin: null,
          blkioWeight: base.blkioWeight ?? null,
          hardLimitKiB: base.hardLimitKiB ?? null,
          task: t,
          tasks: {},
        };
        views.set(name, view);
      }
      view.task = t;
      if (args.memory_backing?.hugepages !== undefined) {
        view.hugepages = args.memory_backing.hugepages;
        view.tasks.hugepages = t;
      }
      if (args.numatune) {
        view.numatune = {
          mode: args.numatune.mode ?? view.numatune.mode ?? 'strict',
          nodeset: args.numatune.nodeset ?? view.numatune.nodeset,
        };
        view.tasks.numatune = t;
      }
      if (args.cputune?.vcpupin || args.cputune?.emulatorpin) {
        for (const [v, cpus] of Object.entries(args.cputune.vcpupin ?? {})) view.vcpupin[v] = String(cpus);
        if (args.cputune.emulatorpin) view.emulatorpin = args.cputune.emulatorpin;
        view.tasks.pins = t;
      }
      if (args.blkiotune?.weight !== undefined) {
        view.blkioWeight = args.blkiotune.weight;
        view.tasks.blkiotune = t;
      }
      if (args.memtune?.hard_limit !== undefined) {
        try {
          view.hardLimitKiB = memoryKiB(args.memtune.hard_limit);
          view.tasks.memtune = t;
        } catch {
          // the schema admits only sizes; a value that is none is the module's own error
        }
      }
    }
  }
  return [...views.values()];
}
