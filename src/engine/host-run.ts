// One play on one host: render and expand its tasks, read for all of them in one round trip, then
// per task plan (pure) and, unless in check mode, apply; then the finalizers of the changes made,
// then the notified handlers the same way. It tells what happens through events; it never prints.

import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import type { Change, CrossTask, Module, Pending, PeerRead, PlanContext, ReadRequest, ReadResult } from '../module.js';
import type { ChangeRecord, PendingRecord, RunEvent, TaskStatus } from '../events.js';
import type { InventoryHost } from '../inventory.js';
import type { Play, Task } from '../playbook.js';
import { liveDefaults } from './play-defaults.js';
import { FACTS_SCRIPT, parseFacts, parseKernelVersion, type Facts } from '../facts.js';
import { ApplyVerifyError, HvtuneError, InputError, TaskError } from '../errors.js';
import { hasTemplate, validateArgs } from '../playbook.js';
import { evalCondition, renderLoop, renderValue, type TemplateWhere } from '../template.js';
import { Finalizers, applyTask } from './apply.js';
import { crossChecksOf, runCrossChecks } from './cross-checks.js';
import { errorMessage } from './errors.js';
import { lazyDiff } from './diff.js';
import { REDACTED, type SecretValues } from '../secrets.js';
import { PlannedFiles, planTask, readTasks, type TaskRead } from './plan.js';
import type { ConnectedHost } from './types.js';
import { taskSelected } from '../tags.js';

export interface HostRunOptions {
  check: boolean;
  tags: string[];
  skipTags: string[];
  extraVars: Record<string, unknown>;
  /** where the values of each play's `secret_vars` go as hosts render them (see src/secrets.ts) */
  secrets?: SecretValues;
  /**
   * Aborted when the run is interrupted (SIGINT/SIGTERM): no further task starts; the one in
   * flight ends, and changes made so far still get their finalizers (as with any_errors_fatal).
   */
  signal?: AbortSignal;
  /**
   * A cross-check error stops the host before any change (the default: play, plan); 'report' only
   * tells it, for commands that look and never change (drift, snapshot).
   */
  crossCheckErrors?: 'stop' | 'report';
}

/** What the runner decided for this play (see facts-need.ts and tasksUsingRegistered). */
export interface HostRunPlan {
  play: Play;
  /** index of the play in the playbook */
  index: number;
  /** facts known when the play starts */
  facts: Facts;
  /** facts still to gather, with the first batch of reads */
  gather: 'kernel' | 'full' | null;
  /** tasks rendered only when the tasks before them have run (they read a registered result) */
  deferred: ReadonlySet<Task>;
  /**
   * Settles when the host may be changed (its lock is held): awaited after the first read, which
   * travels meanwhile, and before anything is planned or applied. A rejection fails the host.
   */
  ready?: Promise<void>;
  /**
   * `any_errors_fatal`: shared by the hosts of a batch. A host that fails sets the reason; the
   * others stop before their next task (changes made so far still get their finalizers).
   */
  halt?: { reason: string | null };
  /** The host's pending items so far in the run (this run adds to it; plans see it). */
  pending: Pending[];
  /** The host's tasks run so far in the run (this run adds to it): what a reboot verifies. */
  history: { module: Module; args: unknown; label: string }[];
  /**
   * The host's planned tasks so far in the run and the cross-check problems already told (this run
   * adds to them): cross-checks judge every play of the run together, and say a problem once.
   */
  cross?: { tasks: CrossTask[]; reported: Set<string> };
  /** Read other inventory hosts for a task (Module.peerReads): the pattern's hosts outside this batch. */
  readPeers?: (pattern: string, requests: ReadRequest[]) => Promise<PeerRead[]>;
}

interface TaskInstance {
  task: Task;
  module: Module;
  args: unknown;
  label: string;
  handler: boolean;
  /** marked secret, or its rendered args hold a secret value: its changes are shown redacted */
  secret: boolean;
}

/** A task of the play as it stands before its turn. */
interface TaskSlot {
  task: Task;
  instances?: TaskInstance[];
  skipped?: string;
  error?: string;
}

/** Effects that check mode reports as pending: what apply would leave to a reboot or do itself. */
export const RESTART_EFFECTS = new Set(['reboot', 'module-reload', 'vm-restart', 'service-restart']);

/** Hostname and kernel release, read with the batch (modules name the kernel in their errors). */
const KERNEL_FILES: ReadRequest[] = [
  { kind: 'file', path: '/proc/sys/kernel/hostname' },
  { kind: 'file', path: '/proc/sys/kernel/osrelease' },
];

export class HostRun {
  /** The host's facts once the play has run (gathered with the reads if they were not known). */
  facts: Facts;
  /** Which facts this run gathered, if any. */
  gathered: 'kernel' | 'full' | null = null;
  private gather: 'kernel' | 'full' | null;
  private vars: Record<string, unknown>;
  private readonly registered: Record<string, unknown> = {};
  private readonly notified = new Set<string>();
  private readonly finalizers = new Finalizers();
  private touched: { paths: Set<string>; modules: Set<string> } = { paths: new Set(), modules: new Set() };
  private readonly files = new PlannedFiles();
  private readonly play: Play;
  /** Another host's failure (any_errors_fatal) or an interrupt stopped this one; said once. */
  private stopped = false;
  /** Reboot items left pending by file changes, checked again once the play's tasks have run. */
  private fileReboots: { inst: TaskInstance; read: TaskRead; path: string; pending: Pending }[] = [];

  /** The play did not run to its end on this host: another host's failure or an interrupt stopped it. */
  get wasStopped(): boolean {
    return this.stopped;
  }

  constructor(
    private readonly run: HostRunPlan,
    private readonly inv: InventoryHost,
    private readonly host: ConnectedHost,
    private readonly modules: ReadonlyMap<string, Module>,
    private readonly opts: HostRunOptions,
    private readonly send: (e: RunEvent) => void,
    private readonly nextId: () => number,
  ) {
    this.play = run.play;
    this.facts = run.facts;
    this.gather = run.gather;
    // precedence: profile defaults < inventory (all < group < host) < play vars (vars_files, profile vars) < extra vars
    this.vars = { ...liveDefaults(run.play, inv.vars, opts.extraVars), ...inv.vars, ...run.play.vars, ...opts.extraVars };
  }

  /** Returns false when the host failed (it then takes no further part in the run). */
  async runPlay(): Promise<boolean> {
    try {
      this.renderPlayVars();
      this.opts.secrets?.addVars(this.vars, this.play.secretVars);
    } catch (err) {
      this.send({ type: 'host-failed', host: this.inv.name, error: errorMessage(err) });
      return false;
    }
    const tasks = this.play.tasks.filter((t) => this.tagged(t));
    // check mode plans every task even after one failed (runTasks), but as apply would stop there,
    // the host's handlers are not planned
    if (!(await this.runTasks(tasks, false))) return this.failed();
    this.recheckFileReboots();
    if (!(await this.runFinalizers())) return this.failed();
    if (this.halted()) return true;
    const handlers = this.play.handlers.filter((h) => this.notified.has(h.name));
    return (await this.runTasks(handlers, true)) || this.failed();
  }

  /** This host failed: with any_errors_fatal, the others of its batch stop after their current task. */
  private failed(): false {
    if (this.run.halt && this.run.halt.reason === null) this.run.halt.reason = `${this.inv.name} failed (any_errors_fatal)`;
    return false;
  }

  /**
   * A task failed in check mode: the host goes on planning, but any_errors_fatal stops the others of
   * its batch now, as apply would.
   */
  private failedInCheck(): true {
    this.failed();
    return true;
  }

  /** Another host failed under any_errors_fatal: say so once, and run nothing more of this play. */
  private halted(): boolean {
    const signal = this.opts.signal;
    const reason = signal?.aborted ? `interrupted by ${String(signal.reason)}` : this.run.halt?.reason;
    if (!reason || (!signal?.aborted && reason.startsWith(`${this.inv.name} `))) return false;
    if (!this.stopped) this.send({ type: 'warning', message: `${this.inv.name}: play "${this.play.name}" stopped: ${reason}` });
    this.stopped = true;
    return true;
  }

  /**
   * Play vars may be templates over inventory vars, -e and facts (`cpus: "{{node_cpus facts 0}}"`),
   * rendered once per host as Ansible users expect; a single mustache keeps its type.
   */
  private renderPlayVars(): void {
    const defaults = liveDefaults(this.play, this.inv.vars, this.opts.extraVars);
    // the defaults the inventory leaves in place render like play vars; they never override it
    const vars = { ...defaults, ...this.play.vars };
    if (!hasTemplate(vars)) return;
    const ctx = {
      ...defaults,
      ...this.inv.vars,
      ...this.play.vars,
      ...this.opts.extraVars,
      facts: this.facts,
      inventory_hostname: this.inv.name,
      group_names: this.inv.groups,
    };
    const where: TemplateWhere = { task: `play "${this.play.name}" vars`, path: 'vars', pos: this.play.pos };
    const rendered = renderValue(vars, ctx, where) as Record<string, unknown>;
    this.vars = { ...this.inv.vars, ...rendered, ...this.opts.extraVars };
  }

  private tagged(task: Task): boolean {
    return taskSelected([...this.play.tags, ...task.tags], this.opts.tags, this.opts.skipTags);
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

  /** A task on this host: `when` (per item), `loop`, rendered and validated args. */
  private slot(task: Task, handler: boolean): TaskSlot {
    try {
      const module = this.modules.get(task.module)!;
      const items: unknown[] = task.loop === undefined ? [undefined] : renderLoop(task.loop, this.context(), this.where(task));
      const instances: TaskInstance[] = [];
      for (const item of items) {
        const ctx = this.context(item);
        if (task.includeWhen?.some((w) => !evalCondition(w, ctx, this.where(task)))) continue;
        if (task.when !== undefined && !evalCondition(task.when, ctx, this.where(task))) continue;
        let args = renderValue(task.args, ctx, this.where(task));
        if (module.resolve) args = this.resolveLocal(module, task, args, ctx);
        const problems = validateArgs(task, args);
        if (problems.length) throw new InputError(problems);
        const secret = task.secret || !!this.opts.secrets?.appearsIn(args);
        // the label is printed as it goes (terminal rows too): a secret task's item is not shown
        const label = item === undefined ? task.name : `${task.name} (item=${secret ? REDACTED : shortItem(item)})`;
        instances.push({ task, module, args, label, handler, secret });
      }
      if (instances.length === 0) return { task, skipped: task.when !== undefined ? 'condition false' : 'empty loop' };
      return { task, instances };
    } catch (err) {
      return { task, error: errorMessage(err) };
    }
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
    // Expand what can be expanded now; a task that reads a registered result waits for its turn.
    const slots = tasks.map((task) => (this.run.deferred.has(task) ? { task } : this.slot(task, handler)));
    // One round trip for every task's reads (DESIGN step 6).
    const reads = new Map<TaskInstance, TaskRead>();
    await this.prefetch(
      slots.flatMap((s) => s.instances ?? []),
      reads,
    );
    await this.run.ready;
    if (!handler && !this.crossCheck(slots, reads)) return false;

    // Apply stops the host at its first failure (Ansible's rule); check mode fails that task and
    // plans the others, on the files as they would be without what the failed task would write
    // (it noted none), so one run shows every problem.
    let failed = false;
    for (let s of slots) {
      if (this.halted()) return !failed;
      if (this.run.deferred.has(s.task)) s = this.slot(s.task, handler);
      if (s.error !== undefined) {
        this.fail(s.task.name, s.task.module, s.error, handler);
        if (!s.task.ignoreErrors) {
          if (!this.opts.check) return false;
          failed = this.failedInCheck();
        }
        continue;
      }
      if (s.skipped !== undefined) {
        this.send({
          type: 'task-done',
          host: this.inv.name,
          id: this.nextId(),
          task: s.task.name,
          module: s.task.module,
          status: 'skipped',
          changes: [],
          pending: [],
          warnings: [],
          reason: s.skipped,
          handler,
        });
        continue;
      }
      const results = [];
      for (const [i, inst] of s.instances!.entries()) {
        if (i > 0 && this.halted()) return !failed;
        const r = await this.runInstance(inst, reads);
        results.push(r);
        if (r.status === 'failed' && !s.task.ignoreErrors) {
          if (!this.opts.check) return false;
          failed = this.failedInCheck();
        }
      }
      if (s.task.register) {
        this.registered[s.task.register] = {
          changed: results.some((r) => r.status === 'changed'),
          failed: results.some((r) => r.status === 'failed'),
          changes: results.flatMap((r) => r.changes),
          results,
        };
      }
    }
    return !failed;
  }

  /**
   * Plan every task of the play on what was read (pure, as check mode does: later tasks on the files
   * earlier ones would write), then judge the host's combined desired state with the modules' cross-
   * checks. Returns false when one finds an error: the host stops before any change. Tasks that
   * wait for a registered result, or whose plan fails (they report it when they run), are left out.
   */
  private crossCheck(slots: TaskSlot[], reads: Map<TaskInstance, TaskRead>): boolean {
    const checks = crossChecksOf(this.modules.values());
    if (checks.length === 0) return true;
    const files = new PlannedFiles();
    const ctx: PlanContext = { host: this.inv.name, facts: this.facts, pending: [...this.run.pending] };
    const planned: CrossTask[] = [];
    for (const inst of slots.flatMap((s) => s.instances ?? [])) {
      const read = reads.get(inst);
      if (!read) continue;
      try {
        const { observed, result } = planTask(inst, read, files, ctx);
        files.note(result.changes);
        planned.push({
          module: inst.module.name,
          args: inst.args,
          observed,
          changes: result.changes,
          task: inst.label,
          pos: inst.task.pos,
        });
      } catch {
        // its own run reports the error
      }
    }
    const cross = this.run.cross ?? { tasks: [], reported: new Set<string>() };
    cross.tasks.push(...planned);
    const { problems } = runCrossChecks(checks, { host: this.inv.name, facts: this.facts, tasks: cross.tasks });
    let errors = 0;
    for (const p of problems) {
      const key = JSON.stringify([p.rule, p.task, p.message]);
      if (cross.reported.has(key)) continue;
      cross.reported.add(key);
      if (p.severity === 'error') errors++;
      const message = this.opts.secrets ? this.opts.secrets.scrub(p.message) : p.message;
      this.send({ type: 'cross-check', ...p, message });
    }
    if (errors === 0 || this.opts.crossCheckErrors === 'report') return true;
    this.send({
      type: 'host-failed',
      host: this.inv.name,
      error: `${this.inv.name}: ${errors} cross-check error(s) in the planned settings: play "${this.play.name}" stopped before any change`,
    });
    return false;
  }

  /** Read for many task instances in one round trip; facts not gathered yet travel with them. */
  private async prefetch(instances: TaskInstance[], into: Map<TaskInstance, TaskRead>): Promise<void> {
    const ctx = { host: this.inv.name, facts: this.facts, pending: this.run.pending };
    const gather = this.gather && instances.length > 0 ? this.gather : null;
    const first = gather === 'full' ? [{ kind: 'script' as const, script: FACTS_SCRIPT }] : gather === 'kernel' ? KERNEL_FILES : [];
    const { reads, first: factsResults } = await readTasks(this.host, instances, ctx, first);
    if (gather) this.takeFacts(gather, factsResults);
    instances.forEach((inst, i) => into.set(inst, reads[i]));
  }

  private takeFacts(gather: 'kernel' | 'full', results: ReadResult[]): void {
    if (gather === 'full') {
      const [result] = results;
      if (result.kind !== 'script' || result.code !== 0) {
        throw new HvtuneError(
          `${this.inv.name}: gathering facts failed${'code' in result ? ` (exit ${result.code}): ${result.stderr.trim()}` : ''}`,
        );
      }
      this.facts = parseFacts(result.stdout);
    } else {
      const [hostname, release] = results.map((r) => (r.kind === 'file' ? (r.content ?? '').trim() : ''));
      this.facts = { hostname, kernel: { release, version: parseKernelVersion(release) } };
    }
    this.host.setFacts(this.facts);
    this.gathered = gather;
    this.gather = null;
  }

  /**
   * Did an earlier apply change what this task read? Files written with a diff are known (see
   * PlannedFiles); other touched paths and the same module's commands (unless marked stable) are
   * read again.
   */
  private isStale(inst: TaskInstance, read: TaskRead): boolean {
    if (this.touched.modules.has(inst.module.name)) {
      if (read.requests.some((r) => (r.kind === 'cmd' || r.kind === 'script') && !r.stable)) return true;
    }
    return read.requests.some((r) => {
      const path = r.kind === 'file' || r.kind === 'stat' ? r.path : r.kind === 'glob' ? r.pattern.replace(/\/[^/]*[*?[].*$/, '') : null;
      if (path === null) return false;
      for (const t of this.touched.paths) if (t === path || t.startsWith(path + '/') || path.startsWith(t + '/')) return true;
      return false;
    });
  }

  private async runInstance(
    inst: TaskInstance,
    reads: Map<TaskInstance, TaskRead>,
  ): Promise<{ status: TaskStatus; changes: ChangeRecord[] }> {
    const { task, module } = inst;
    const hostName = this.inv.name;
    const id = this.nextId();
    this.send({ type: 'task-start', host: hostName, id, task: inst.label, module: module.name });
    const ctx: PlanContext = { host: hostName, facts: this.facts, pending: this.run.pending };
    try {
      const wanted = module.peerReads?.(inst.args, ctx);
      if (wanted && this.run.readPeers) ctx.peers = await this.run.readPeers(wanted.pattern, wanted.requests);
      let read = reads.get(inst);
      if (!read || this.isStale(inst, read)) {
        // Something this task reads changed since the batch: read it and every later task again, once.
        const keys = [...reads.keys()];
        const at = keys.indexOf(inst);
        this.touched = { paths: new Set(), modules: new Set() };
        await this.prefetch(at >= 0 ? keys.slice(at) : [inst], reads);
        read = reads.get(inst)!;
      }
      const { observed, result } = planTask(inst, read, this.files, ctx);
      const changes = result.changes;
      const pending = result.pending ?? [];
      // a file that already holds a secret value (an edit of one line of it) is as secret as its args:
      // redacted from records, its rollback from the record would write <redacted> back
      if (!inst.secret && this.opts.secrets?.appearsIn(changes)) inst.secret = true;
      this.send({
        type: 'task-planned',
        host: hostName,
        id,
        planned: {
          play: this.run.index,
          task: inst.label,
          module: module.name,
          handler: inst.handler,
          args: inst.args,
          ...(inst.secret ? { secret: true } : {}),
          changes,
          pending,
        },
        observed,
        facts: this.facts,
      });

      const resolves = !this.opts.check && changes.length > 0 && module.resolvesPending ? module.resolvesPending : null;
      if (this.opts.check) this.files.note(changes);
      else if (changes.length > 0) {
        // boot configuration written by earlier tasks must be complete before a reboot (update-grub)
        if (resolves && !(await this.runFinalizers())) throw new TaskError(`${hostName}: the finalizers before it failed; not run`);
        await applyTask(module, changes, inst.args, this.host, this.finalizers);
        this.files.note(changes);
        for (const c of changes) if (!c.diff && c.target.startsWith('/')) this.touched.paths.add(c.target);
        this.touched.modules.add(module.name);
        if (resolves) await this.settlePending(resolves);
      }
      // A change whose effect is a reboot leaves the reboot pending once made (unless it is the
      // reboot); reloads and restarts are done by apply itself, so they are pending only in check
      // mode (what apply would do).
      const pendingAll: Pending[] = [
        ...pending,
        ...changes
          .filter((c) => (this.opts.check ? RESTART_EFFECTS.has(c.effect) : c.effect === 'reboot' && !resolves))
          .map((c) => ({ effect: c.effect as Pending['effect'], target: c.target, summary: c.summary })),
      ];
      this.run.pending.push(...pendingAll);
      for (const c of changes) {
        const item = pendingAll.find((p) => p.effect === 'reboot' && p.target === c.target);
        if (c.diff && c.effect === 'reboot' && item) this.fileReboots.push({ inst, read, path: c.diff.path, pending: item });
      }
      this.run.history.push({ module, args: inst.args, label: inst.label });
      const records = changes.map((c) => this.record(inst, c));
      const pendingRecords: PendingRecord[] = pendingAll.map((p) => ({ ...p, host: hostName, task: inst.label, module: module.name }));
      const status: TaskStatus = changes.length ? 'changed' : 'ok';
      if (status === 'changed') for (const n of task.notify) this.notified.add(n);
      this.send({
        type: 'task-done',
        host: hostName,
        id,
        task: inst.label,
        module: module.name,
        status,
        changes: records,
        pending: pendingRecords,
        warnings: result.warnings ?? [],
        handler: inst.handler,
      });
      return { status, changes: records };
    } catch (err) {
      this.fail(inst.label, module.name, inst.secret ? secretError(err) : errorMessage(err), inst.handler, id);
      return { status: 'failed', changes: [] };
    }
  }

  /**
   * A reboot is pending because a task changed a file; if a later task of the play changed that file
   * back, the task planned again on the files as the play leaves them wants to change it again, and
   * its item is no longer pending: pending comes from the state, not from what was done.
   */
  private recheckFileReboots(): void {
    const ctx = { host: this.inv.name, facts: this.facts, pending: this.run.pending };
    for (const w of this.fileReboots) {
      let again: Change[];
      try {
        again = planTask(w.inst, w.read, this.files, ctx).result.changes;
      } catch {
        continue;
      }
      if (!again.some((c) => c.diff?.path === w.path)) continue;
      const at = this.run.pending.indexOf(w.pending);
      if (at !== -1) this.run.pending.splice(at, 1);
      this.send({ type: 'pending-retracted', host: this.inv.name, task: w.inst.label, effect: w.pending.effect, target: w.pending.target });
    }
    this.fileReboots = [];
  }

  /**
   * A change made the host's pending items of `effects` live (a reboot): they are cleared, and every
   * task the host ran so far is read and planned again; one still pending fails the task.
   */
  private async settlePending(effects: Pending['effect'][]): Promise<void> {
    this.send({ type: 'pending-cleared', host: this.inv.name, effects });
    const kept = this.run.pending.filter((p) => !effects.includes(p.effect));
    this.run.pending.splice(0, this.run.pending.length, ...kept);
    const ctx = { host: this.inv.name, facts: this.facts, pending: this.run.pending };
    const earlier = this.run.history;
    const { reads } = await readTasks(this.host, earlier, ctx);
    const still: string[] = [];
    earlier.forEach((t, i) => {
      try {
        const { result } = planTask(t, reads[i], null, ctx);
        for (const p of result.pending ?? []) if (effects.includes(p.effect)) still.push(`${t.label}: ${p.summary}`);
        for (const c of result.changes) if ((effects as string[]).includes(c.effect)) still.push(`${t.label}: ${c.summary}`);
      } catch (err) {
        still.push(`${t.label}: ${errorMessage(err)}`);
      }
    });
    if (still.length) throw new TaskError(`${this.inv.name}: after it, still not live:\n  ${still.join('\n  ')}`);
  }

  private fail(task: string, module: string, message: string, handler: boolean, id = this.nextId()) {
    this.send({
      type: 'task-done',
      host: this.inv.name,
      id,
      task,
      module,
      status: 'failed',
      changes: [],
      pending: [],
      warnings: [],
      error: this.opts.secrets ? this.opts.secrets.scrub(message) : message,
      handler,
    });
  }

  private record(inst: TaskInstance, c: Change): ChangeRecord {
    if (inst.secret) return secretRecord(this.inv.name, inst, c);
    return lazyDiff(
      {
        host: this.inv.name,
        task: inst.label,
        module: inst.module.name,
        summary: c.summary,
        target: c.target,
        effect: c.effect,
        before: c.before ?? null,
        after: c.after ?? null,
        warnings: c.warnings ?? [],
      },
      c.diff,
    );
  }

  /** Once-per-host work (grub regeneration) after the play's tasks, before handlers. */
  private async runFinalizers(): Promise<boolean> {
    try {
      await this.finalizers.run(this.host, async (label, module, work) => {
        const id = this.nextId();
        this.send({ type: 'task-start', host: this.inv.name, id, task: label, module: module.name });
        try {
          await work();
        } catch (err) {
          this.fail(label, module.name, errorMessage(err), false, id);
          throw err;
        }
        this.send({
          type: 'task-done',
          host: this.inv.name,
          id,
          task: label,
          module: module.name,
          status: 'ok',
          changes: [],
          pending: [],
          warnings: [],
          handler: false,
        });
      });
      return true;
    } catch {
      return false;
    }
  }
}

function shortItem(item: unknown): string {
  const s = typeof item === 'string' ? item : JSON.stringify(item);
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

/** A secret task's change as printed and reported: what and where, never the values or contents. */
function secretRecord(host: string, inst: TaskInstance, c: Change): ChangeRecord {
  const hide = (v: string | null | undefined) => (v === null || v === undefined ? null : REDACTED);
  return {
    host,
    task: inst.label,
    module: inst.module.name,
    summary: c.summary,
    target: c.target,
    effect: c.effect,
    before: hide(c.before),
    after: hide(c.after),
    diff: c.diff ? `--- a${c.diff.path}\n+++ b${c.diff.path}\n# diff not shown: secret task\n` : null,
    warnings: c.warnings ?? [],
  };
}

/** A secret task's failure without the contents a read-back error quotes. */
function secretError(err: unknown): string {
  if (err instanceof ApplyVerifyError) return `${err.host}: ${err.target} is not as planned after apply (values not shown: secret task)`;
  return errorMessage(err);
}
