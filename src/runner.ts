// The runner: plays in order, hosts in parallel (bounded by forks), tasks in order per host.
// Per host: connect once, gather facts once, render, batch every task's reads into one round
// trip, plan (pure), then report (check) or apply, finalize, handlers. It emits events; it never prints.

import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import type { Change, HostHandle, Module, Pending, PlanResult, ReadRequest, ReadResult } from './module.js';
import type { ChangeRecord, FailureRecord, HostRecap, PendingRecord, RunEvent, RunReport, TaskStatus } from './events.js';
import type { Inventory, InventoryHost } from './inventory.js';
import type { Play, Playbook, Task } from './playbook.js';
import type { Facts } from './facts.js';
import { FACTS_SCRIPT, parseFacts, parseKernelVersion } from './facts.js';
import { HvtuneError, InputError, TaskError } from './errors.js';
import { selectHosts, selectLimit } from './patterns.js';
import { validateArgs } from './playbook.js';
import { evalCondition, renderLoop, renderValue, type TemplateWhere } from './template.js';

export interface RunOptions {
  check: boolean;
  diff: boolean;
  limit?: string;
  tags: string[];
  skipTags: string[];
  extraVars: Record<string, unknown>;
  forks: number;
  /** facts to use instead of gathering, host → facts */
  factsOverride?: Record<string, Facts>;
  /** Called with every task's plan before it is applied (saved plans, snapshots, run records). */
  onPlanned?: (planned: PlannedTask) => void;
}

/** One task instance as planned on one host: what saved plans and run records keep. */
export interface PlannedTask {
  host: string;
  play: string;
  task: string;
  module: string;
  handler: boolean;
  /** rendered, validated arguments */
  args: unknown;
  observed: unknown;
  facts: Facts;
  result: PlanResult;
}

/** How the runner reaches a host: the CLI passes the SSH transport, tests may pass others. */
export type Connector = (host: InventoryHost) => Promise<ConnectedHost>;
export interface ConnectedHost extends HostHandle {
  /** ssh exec calls so far */
  readonly roundTrips: number;
  close(): Promise<void>;
  setFacts(facts: Facts): void;
}

interface TaskInstance {
  task: Task;
  module: Module;
  args: unknown;
  item?: unknown;
  label: string;
  handler: boolean;
}

interface Prefetched {
  requests: ReadRequest[];
  results: ReadResult[];
  /** the read failed: the task fails with this */
  error?: unknown;
}

const RESTART_EFFECTS = new Set(['reboot', 'module-reload', 'vm-restart', 'service-restart']);

export async function runPlaybook(
  playbook: Playbook,
  inventory: Inventory,
  modules: ReadonlyMap<string, Module>,
  connect: Connector,
  opts: RunOptions,
  emit: (e: RunEvent) => void,
): Promise<RunReport> {
  const started = Date.now();
  const report: RunReport = {
    check: opts.check,
    recap: {},
    changes: [],
    pending: [],
    failures: [],
    warnings: [],
    roundTrips: {},
    durationMs: 0,
  };
  const send = (e: RunEvent) => {
    if (e.type === 'warning') report.warnings.push(e.message);
    emit(e);
  };
  const limited = opts.limit ? new Set(selectLimit(inventory, opts.limit)) : null;
  const connections = new Map<string, Promise<ConnectedHost>>();
  // full: everything FACTS_SCRIPT gathers; otherwise hostname and kernel release only
  const factsCache = new Map<string, { facts: Facts; full: boolean }>();
  const dead = new Set<string>(); // failed or unreachable: skip in later plays, like Ansible

  const recapOf = (host: string): HostRecap =>
    (report.recap[host] ??= { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: false, pending: [] });

  try {
    for (const play of playbook.plays) {
      const hosts = selectHosts(inventory, play.hosts).filter((h) => !limited || limited.has(h));
      if (hosts.length === 0) send({ type: 'warning', message: `play "${play.name}": no hosts match "${play.hosts}"` });
      send({ type: 'play-start', play: play.name, hosts, check: opts.check });
      await forEachLimited(hosts, opts.forks, async (name) => {
        if (dead.has(name)) return;
        const ok = await runHost(name);
        if (!ok) dead.add(name);
      });
      send({ type: 'play-end', play: play.name });

      async function runHost(name: string): Promise<boolean> {
        const invHost = inventory.hosts.get(name)!;
        const recap = recapOf(name);
        send({ type: 'host-start', host: name });
        let host: ConnectedHost;
        try {
          if (!connections.has(name)) connections.set(name, connect(invHost));
          host = await connections.get(name)!;
          const saved = opts.factsOverride?.[name];
          const cached = factsCache.get(name);
          if (saved && !cached) factsCache.set(name, { facts: saved, full: true });
          else if (!play.gatherFacts && !cached) factsCache.set(name, { facts: minimalFacts(name), full: false });
          else if ((!cached || (!cached.full && needsFullFacts(play, modules))) && !canDeferFacts(play, modules)) {
            factsCache.set(name, { facts: await gatherFacts(host), full: true });
          }
          const known = factsCache.get(name);
          if (known) host.setFacts(known.facts);
        } catch (err) {
          recap.unreachable = true;
          const message = errorMessage(err);
          report.failures.push({ host: name, task: null, message });
          send({ type: 'host-unreachable', host: name, error: message });
          send({ type: 'host-done', host: name, recap });
          return false;
        }
        let ok: boolean;
        try {
          // Facts not gathered yet travel with the first batch of reads: one round trip fewer.
          const known = factsCache.get(name);
          const full = needsFullFacts(play, modules);
          const run = new HostRun(play, invHost, host, known?.facts ?? minimalFacts(name), modules, opts, report, send);
          if (!known || (full && !known.full)) run.gatherWithReads(full, (f) => factsCache.set(name, { facts: f, full }));
          ok = await run.run();
        } catch (err) {
          // a lost connection or an engine fault: this host fails, the others go on
          recap.failed++;
          report.failures.push({ host: name, task: null, message: errorMessage(err) });
          ok = false;
        }
        report.roundTrips[name] = host.roundTrips;
        send({ type: 'host-done', host: name, recap });
        return ok;
      }
    }
  } finally {
    await Promise.all(
      [...connections.values()].map((p) => p.then((c) => c.close()).catch(() => undefined)),
    );
  }
  report.durationMs = Date.now() - started;
  send({ type: 'run-end', report });
  return report;

  async function gatherFacts(host: ConnectedHost): Promise<Facts> {
    const r = await host.sh(FACTS_SCRIPT);
    if (r.code !== 0) throw new HvtuneError(`${host.name}: gathering facts failed (exit ${r.code}): ${r.stderr.trim()}`);
    return parseFacts(r.stdout);
  }
}

/**
 * Can this play's reads be sent before its facts are known? Only if no template, condition or
 * loop mentions facts and no module needs facts to describe its reads.
 */
function canDeferFacts(play: Play, modules: ReadonlyMap<string, Module>): boolean {
  if (/facts/.test(JSON.stringify(play.vars))) return false;
  return [...play.tasks, ...play.handlers].every(
    (t) => !modules.get(t.module)?.readNeedsFacts && !/facts/.test(JSON.stringify([t.args, t.when, t.loop])),
  );
}

/**
 * Does this play use facts beyond the hostname and kernel release? Gathering them all costs the
 * host more CPU than the rest of a converged run, so only plays that use them pay for it.
 */
function needsFullFacts(play: Play, modules: ReadonlyMap<string, Module>): boolean {
  if (/facts/.test(JSON.stringify(play.vars))) return true;
  return [...play.tasks, ...play.handlers].some(
    (t) => modules.get(t.module)?.needsFacts || /facts/.test(JSON.stringify([t.args, t.when, t.loop])),
  );
}

/** Hostname and kernel release, read with the batch (modules name the kernel in their errors). */
const KERNEL_FILES: ReadRequest[] = [
  { kind: 'file', path: '/proc/sys/kernel/hostname' },
  { kind: 'file', path: '/proc/sys/kernel/osrelease' },
];

function kernelFacts(results: ReadResult[]): Facts {
  const [hostname, release] = results.map((r) => (r.kind === 'file' ? (r.content ?? '').trim() : ''));
  return { hostname, kernel: { release, version: parseKernelVersion(release) } };
}

function minimalFacts(name: string): Facts {
  return { hostname: name, kernel: { release: 'unknown', version: [0, 0, 0] } };
}

/** The tasks of one play on one host. */
class HostRun {
  private readonly recap: HostRecap;
  private vars: Record<string, unknown>;
  private readonly registered: Record<string, unknown> = {};
  private readonly notified = new Set<string>();
  private readonly finalizers = new Map<string, { module: Module; id: string; items: { change: Change; data?: unknown }[] }>();
  private touched: { paths: Set<string>; modules: Set<string> } = { paths: new Set(), modules: new Set() };
  /**
   * Files as earlier tasks left them (apply: written and verified) or would leave them (check):
   * later tasks read these instead of the batch's older bytes, so check mode plans honest chains
   * and apply needs no second read of a file it just wrote.
   */
  private readonly plannedFiles = new Map<string, string | null>();
  private onFacts?: (facts: Facts) => void;
  private fullFacts = true;

  constructor(
    private readonly play: Play,
    private readonly inv: InventoryHost,
    private readonly host: ConnectedHost,
    private facts: Facts,
    private readonly modules: ReadonlyMap<string, Module>,
    private readonly opts: RunOptions,
    private readonly report: RunReport,
    private readonly send: (e: RunEvent) => void,
  ) {
    this.recap = report.recap[inv.name];
    // precedence: inventory (all < group < host) < play vars < extra vars
    this.vars = { ...inv.vars, ...play.vars, ...opts.extraVars };
  }

  /** Gather facts (all, or hostname and kernel only) inside the first read batch; report them through onFacts. */
  gatherWithReads(full: boolean, onFacts: (facts: Facts) => void): void {
    this.onFacts = onFacts;
    this.fullFacts = full;
  }

  private factsRequests(): ReadRequest[] {
    return this.fullFacts ? [{ kind: 'script', script: FACTS_SCRIPT }] : KERNEL_FILES;
  }

  private takeFacts(results: ReadResult[]): void {
    const onFacts = this.onFacts!;
    this.onFacts = undefined;
    if (this.fullFacts) {
      const [result] = results;
      if (result.kind !== 'script' || result.code !== 0) {
        throw new HvtuneError(`${this.inv.name}: gathering facts failed${'code' in result ? ` (exit ${result.code}): ${result.stderr.trim()}` : ''}`);
      }
      this.facts = parseFacts(result.stdout);
    } else {
      this.facts = kernelFacts(results);
    }
    this.host.setFacts(this.facts);
    onFacts(this.facts);
  }

  /** Returns false when the host failed (it then takes no further part in the run). */
  async run(): Promise<boolean> {
    try {
      this.renderPlayVars();
    } catch (err) {
      this.recap.failed++;
      this.report.failures.push({ host: this.inv.name, task: null, message: errorMessage(err) });
      return false;
    }
    const tasks = this.play.tasks.filter((t) => this.tagged(t));
    const ok = await this.runTasks(tasks, false);
    if (!ok) return false;
    if (!(await this.runFinalizers())) return false;
    const handlers = this.play.handlers.filter((h) => this.notified.has(h.name));
    return this.runTasks(handlers, true);
  }

  /**
   * Play vars may be templates over inventory vars, -e and facts (`cpus: "{{node_cpus facts 0}}"`),
   * rendered once per host as Ansible users expect; a single mustache keeps its type.
   */
  private renderPlayVars(): void {
    const vars = this.play.vars;
    if (!/\{\{/.test(JSON.stringify(vars))) return;
    const ctx = { ...this.inv.vars, ...vars, ...this.opts.extraVars, facts: this.facts, inventory_hostname: this.inv.name, group_names: this.inv.groups };
    const where: TemplateWhere = { task: `play "${this.play.name}" vars`, path: 'vars', pos: this.play.pos };
    const rendered = renderValue(vars, ctx, where) as Record<string, unknown>;
    this.vars = { ...this.inv.vars, ...rendered, ...this.opts.extraVars };
  }

  private tagged(task: Task): boolean {
    const tags = new Set([...this.play.tags, ...task.tags]);
    if (this.opts.tags.length && !this.opts.tags.some((t) => tags.has(t) || t === 'all')) return tags.has('always');
    if (this.opts.skipTags.some((t) => tags.has(t))) return false;
    return true;
  }

  private context(item?: unknown): Record<string, unknown> {
    return {
      ...this.vars,
      ...this.registered,
      facts: this.facts,
      inventory_hostname: this.inv.name,
      group_names: this.inv.groups,
      ...(item !== undefined ? { item } : {}),
    };
  }

  private where(task: Task): TemplateWhere {
    return { task: task.name, path: task.path, pos: task.pos };
  }

  /**
   * Expand a task on this host: `when` (evaluated per item), `loop`, rendered and validated args.
   * Returns null when skipped.
   */
  private expand(task: Task, handler: boolean): TaskInstance[] | { skipped: string } {
    const module = this.modules.get(task.module)!;
    const items: (unknown | undefined)[] =
      task.loop === undefined ? [undefined] : renderLoop(task.loop, this.context(), this.where(task));
    const out: TaskInstance[] = [];
    for (const item of items) {
      const ctx = this.context(item);
      if (task.when !== undefined && !evalCondition(task.when, ctx, this.where(task))) continue;
      let args = renderValue(task.args, ctx, this.where(task));
      if (module.resolve) args = this.resolveLocal(module, task, args, ctx);
      const problems = validateArgs(task, args);
      if (problems.length) throw new InputError(problems);
      const label = item === undefined ? task.name : `${task.name} (item=${shortItem(item)})`;
      out.push({ task, module, args, item, label, handler });
    }
    if (out.length === 0) return { skipped: task.when !== undefined ? 'condition false' : 'empty loop' };
    return out;
  }

  private resolveLocal(module: Module, task: Task, args: unknown, ctx: Record<string, unknown>): unknown {
    const base = dirname(task.pos.file);
    try {
      return module.resolve!(args, {
        readFile: (path) => readFileSync(resolvePath(base, path), 'utf8'),
        render: (text, name) => String(renderValue(text, ctx, { ...this.where(task), task: `${task.name} (${name})` })),
      });
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError([{ pos: task.pos, path: task.path, message: errorMessage(err) }]);
    }
  }

  private async runTasks(tasks: Task[], handler: boolean): Promise<boolean> {
    // Expand what can be expanded now; tasks that use a registered result wait for it.
    const plans: ({ task: Task; instances?: TaskInstance[]; skipped?: string; deferred?: boolean; error?: string })[] = [];
    for (const task of tasks) {
      try {
        const r = this.expand(task, handler);
        plans.push('skipped' in r ? { task, skipped: r.skipped } : { task, instances: r });
      } catch (err) {
        if (usesRegistered(err, this.play, task)) plans.push({ task, deferred: true });
        else plans.push({ task, error: errorMessage(err) });
      }
    }
    // One round trip for every task's reads (DESIGN step 6).
    const prefetch = new Map<TaskInstance, Prefetched>();
    await this.prefetch(plans.flatMap((p) => p.instances ?? []), prefetch);

    for (const p of plans) {
      if (p.deferred) {
        try {
          const r = this.expand(p.task, handler);
          if ('skipped' in r) p.skipped = r.skipped;
          else p.instances = r;
        } catch (err) {
          p.error = errorMessage(err);
        }
      }
      if (p.error !== undefined) {
        this.fail(p.task, p.error, handler);
        if (!p.task.ignoreErrors) return false;
        continue;
      }
      if (p.skipped !== undefined) {
        this.recap.skipped++;
        this.send({ type: 'task-done', host: this.inv.name, task: p.task.name, module: p.task.module, status: 'skipped', changes: [], pending: [], warnings: [], reason: p.skipped, handler });
        continue;
      }
      const results = [];
      for (const inst of p.instances!) {
        const r = await this.runInstance(inst, prefetch);
        results.push(r);
        if (r.status === 'failed' && !p.task.ignoreErrors) return false;
      }
      if (p.task.register) {
        this.registered[p.task.register] = {
          changed: results.some((r) => r.status === 'changed'),
          failed: results.some((r) => r.status === 'failed'),
          changes: results.flatMap((r) => r.changes),
          results,
        };
      }
    }
    return true;
  }

  /** Batch the reads of many task instances into one remote round trip. */
  private async prefetch(instances: TaskInstance[], into: Map<TaskInstance, Prefetched>): Promise<void> {
    const all: ReadRequest[] = [];
    const spans: [TaskInstance, ReadRequest[], number][] = [];
    for (const inst of instances) {
      let requests: ReadRequest[];
      try {
        requests = inst.module.read(inst.args, { host: this.inv.name, facts: this.facts });
      } catch (err) {
        into.set(inst, { requests: [], results: [], error: err });
        continue;
      }
      spans.push([inst, requests, all.length]);
      all.push(...requests);
    }
    if (all.length === 0) {
      for (const [inst, requests] of spans) into.set(inst, { requests, results: [] });
      return;
    }
    let results: ReadResult[];
    try {
      if (this.onFacts) {
        const factsRequests = this.factsRequests();
        const got = await this.host.read([...factsRequests, ...all]);
        this.takeFacts(got.slice(0, factsRequests.length));
        results = got.slice(factsRequests.length);
      } else {
        results = await this.host.read(all);
      }
    } catch (err) {
      if (this.onFacts) {
        // The batch failed as a whole: gather facts on their own, then read task by task below.
        this.takeFacts(await this.host.read(this.factsRequests()));
      }
      if (spans.length === 1) {
        into.set(spans[0][0], { requests: spans[0][1], results: [], error: err });
        return;
      }
      // One unreadable path must fail its own task, not the host: read task by task.
      for (const [inst] of spans) await this.prefetch([inst], into);
      return;
    }
    for (const [inst, requests, start] of spans) {
      into.set(inst, { requests, results: results.slice(start, start + requests.length) });
    }
  }

  /**
   * Did an earlier apply change what this task read? Files written with a diff are known (see
   * plannedFiles); other touched paths and the same module's commands (unless marked stable) are
   * read again.
   */
  private isStale(inst: TaskInstance, fetched: Prefetched): boolean {
    if (this.touched.modules.has(inst.module.name)) {
      if (fetched.requests.some((r) => (r.kind === 'cmd' || r.kind === 'script') && !r.stable)) return true;
    }
    return fetched.requests.some((r) => {
      const path = r.kind === 'file' ? r.path : r.kind === 'glob' ? r.pattern.replace(/\/[^/]*[*?[].*$/, '') : null;
      if (path === null) return false;
      for (const t of this.touched.paths) if (t === path || t.startsWith(path + '/') || path.startsWith(t + '/')) return true;
      return false;
    });
  }

  private withPlannedFiles(fetched: Prefetched): ReadResult[] {
    return overlayPlannedFiles(fetched.results, this.plannedFiles);
  }

  private async runInstance(
    inst: TaskInstance,
    prefetch: Map<TaskInstance, Prefetched>,
  ): Promise<{ status: TaskStatus; changes: ChangeRecord[] }> {
    const { task, module } = inst;
    const hostName = this.inv.name;
    this.send({ type: 'task-start', host: hostName, task: inst.label, module: module.name });
    const ctx = { host: hostName, facts: this.facts };
    try {
      let fetched = prefetch.get(inst);
      if (!fetched || this.isStale(inst, fetched)) {
        // Something this task reads changed since the batch: read it and every later task again, once.
        const keys = [...prefetch.keys()];
        const at = keys.indexOf(inst);
        this.touched = { paths: new Set(), modules: new Set() };
        await this.prefetch(at >= 0 ? keys.slice(at) : [inst], prefetch);
        fetched = prefetch.get(inst)!;
      }
      if (fetched.error !== undefined) throw fetched.error;
      const results = this.withPlannedFiles(fetched);
      const observed = module.parse(inst.args, results, ctx);
      const planned: PlanResult = module.plan(inst.args, observed, ctx);
      this.opts.onPlanned?.({ host: hostName, play: this.play.name, task: inst.label, module: module.name, handler: inst.handler, args: inst.args, observed, facts: this.facts, result: planned });
      const changes = planned.changes;
      const pending = planned.pending ?? [];
      const warnings = [...(planned.warnings ?? []), ...changes.flatMap((c) => c.warnings ?? [])];

      if (this.opts.check) for (const c of changes) if (c.diff) this.plannedFiles.set(c.diff.path, c.diff.after);
      if (changes.length > 0 && !this.opts.check) {
        await module.apply(changes, this.host, inst.args);
        for (const c of changes) {
          if (c.diff) this.plannedFiles.set(c.diff.path, c.diff.after);
          else if (c.target.startsWith('/')) this.touched.paths.add(c.target);
          if (c.finalize) {
            const key = `${module.name}:${c.finalize.id}`;
            const f = this.finalizers.get(key) ?? { module, id: c.finalize.id, items: [] };
            f.items.push({ change: c, data: c.finalize.data });
            this.finalizers.set(key, f);
          }
        }
        this.touched.modules.add(module.name);
      }
      // A change whose effect is a reboot leaves the reboot pending once made; reloads and restarts
      // are done by apply itself, so they are pending only in check mode (what apply would do).
      const pendingAll: Pending[] = [
        ...pending,
        ...changes
          .filter((c) => (this.opts.check ? RESTART_EFFECTS.has(c.effect) : c.effect === 'reboot'))
          .map((c) => ({ effect: c.effect as Pending['effect'], target: c.target, summary: c.summary })),
      ];
      const records = changes.map((c) => this.record(inst, c));
      const pendingRecords: PendingRecord[] = pendingAll.map((p) => ({ ...p, host: hostName, task: inst.label, module: module.name }));
      for (const p of pendingAll) {
        if (!this.recap.pending.some((q) => q.target === p.target && q.effect === p.effect)) this.recap.pending.push(p);
      }
      this.report.changes.push(...records);
      this.report.warnings.push(...(planned.warnings ?? []).map((w) => `${hostName}: ${inst.label}: ${w}`));
      this.report.pending.push(...pendingRecords);
      const status: TaskStatus = changes.length ? 'changed' : 'ok';
      this.recap.ok++;
      if (status === 'changed') {
        this.recap.changed++;
        for (const n of task.notify) this.notified.add(n);
      }
      this.send({ type: 'task-done', host: hostName, task: inst.label, module: module.name, status, changes: records, pending: pendingRecords, warnings, handler: inst.handler });
      return { status, changes: records };
    } catch (err) {
      this.fail(task, errorMessage(err), inst.handler, inst.label);
      return { status: 'failed', changes: [] };
    }
  }

  private fail(task: Task, message: string, handler: boolean, label = task.name) {
    this.recap.failed++;
    this.report.failures.push({ host: this.inv.name, task: label, message });
    this.send({ type: 'task-done', host: this.inv.name, task: label, module: task.module, status: 'failed', changes: [], pending: [], warnings: [], error: message, handler });
  }

  private record(inst: TaskInstance, c: Change): ChangeRecord {
    return {
      host: this.inv.name,
      task: inst.label,
      module: inst.module.name,
      summary: c.summary,
      target: c.target,
      effect: c.effect,
      before: c.before ?? null,
      after: c.after ?? null,
      diff: c.diff ? unifiedDiff(c.diff.path, c.diff.before, c.diff.after) : null,
      warnings: c.warnings ?? [],
    };
  }

  /** Once-per-host work (grub regeneration) after the play's tasks, before handlers. */
  private async runFinalizers(): Promise<boolean> {
    for (const [key, f] of this.finalizers) {
      const label = `finalize ${key}`;
      this.send({ type: 'task-start', host: this.inv.name, task: label, module: f.module.name });
      try {
        await f.module.finalize!(f.id, f.items, this.host);
        this.send({ type: 'task-done', host: this.inv.name, task: label, module: f.module.name, status: 'ok', changes: [], pending: [], warnings: [], handler: false });
      } catch (err) {
        const message = errorMessage(err);
        this.recap.failed++;
        this.report.failures.push({ host: this.inv.name, task: label, message });
        this.send({ type: 'task-done', host: this.inv.name, task: label, module: f.module.name, status: 'failed', changes: [], pending: [], warnings: [], error: message, handler: false });
        return false;
      }
    }
    this.finalizers.clear();
    return true;
  }
}

/** Read results as files planned by earlier tasks would leave them (path → content, null = removed). */
export function overlayPlannedFiles(results: ReadResult[], plannedFiles: ReadonlyMap<string, string | null>): ReadResult[] {
  if (plannedFiles.size === 0) return results;
  return results.map((r) => {
    if (r.kind === 'file' && plannedFiles.has(r.path)) return { ...r, content: plannedFiles.get(r.path)! };
    if (r.kind !== 'glob') return r;
    const files = { ...r.files };
    const dir = r.pattern.slice(0, r.pattern.lastIndexOf('/') + 1);
    const name = new RegExp('^' + r.pattern.slice(dir.length).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
    for (const [path, content] of plannedFiles) {
      if (!path.startsWith(dir) || !name.test(path.slice(dir.length))) continue;
      if (content === null) delete files[path];
      else files[path] = content;
    }
    return { ...r, files };
  });
}

export function unifiedDiff(path: string, before: string | null, after: string | null): string {
  return createTwoFilesPatch(
    before === null ? '/dev/null' : `a${path}`,
    after === null ? '/dev/null' : `b${path}`,
    before ?? '',
    after ?? '',
    undefined,
    undefined,
    { context: 3 },
  ).replace(/^=+\n/, '');
}

function shortItem(item: unknown): string {
  const s = typeof item === 'string' ? item : JSON.stringify(item);
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

/** Did rendering fail only because the task refers to a later-registered result? */
function usesRegistered(err: unknown, play: Play, task: Task): boolean {
  if (!(err instanceof InputError)) return false;
  const names = play.tasks.filter((t) => t.register && t !== task).map((t) => t.register!);
  return err.problems.every((p) => names.some((n) => p.message.includes(`"${n}`)));
}

export function errorMessage(err: unknown): string {
  if (err instanceof TaskError || err instanceof HvtuneError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Run fn over items with at most `limit` at once, in order of start. */
export async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]);
    }
  });
  await Promise.all(workers);
}
