// Apply: a task's planned changes through its module, the once-per-host work they ask for
// (finalizers: grub regenerated once however many tasks edited it), in the order every command
// keeps: per play, its tasks, then its finalizers, then its handlers.

import { createHash } from 'node:crypto';
import type { Change, FileExpectation, HostHandle, Module } from '../module.js';
import { errorMessage } from './errors.js';
import type { PlannedTask } from './types.js';

/** The finalize work the applied changes asked for, grouped by `${module}:${id}`. */
export class Finalizers {
  private readonly pending = new Map<string, { module: Module; id: string; items: { change: Change; data?: unknown }[] }>();

  add(module: Module, changes: Change[]): void {
    for (const c of changes) {
      if (!c.finalize) continue;
      const key = `${module.name}:${c.finalize.id}`;
      const f = this.pending.get(key) ?? { module, id: c.finalize.id, items: [] };
      f.items.push({ change: c, data: c.finalize.data });
      this.pending.set(key, f);
    }
  }

  /** Run each once; `each` wraps every run (events, errors). The first that throws stops the rest. */
  async run(
    host: HostHandle,
    each: (label: string, module: Module, work: () => Promise<void>) => Promise<void> = (_l, _m, work) => work(),
  ): Promise<void> {
    for (const [key, f] of this.pending) {
      await each(`finalize ${key}`, f.module, async () => {
        if (!f.module.finalize) throw new Error(`${key}: module ${f.module.name} has no finalize`);
        await f.module.finalize(f.id, f.items, host);
      });
    }
    this.pending.clear();
  }
}

/** What a write expects to find: the content a plan read (null: no file). */
export function expectationOf(content: string | null): FileExpectation {
  return content === null ? { absent: true } : { sha256: createHash('sha256').update(content).digest('hex') };
}

/**
 * The host as a task's apply sees it: a write or removal of a file these changes planned expects
 * the file to hold what the plan read (`diff.before`), then what the task itself last wrote, so a
 * file another run or tool changed since the read is refused on the host, never overwritten.
 * Every module gets this without asking; one that passes its own `expect` keeps it.
 */
export function expectingHost(host: HostHandle, changes: Change[]): HostHandle {
  const planned = new Map<string, string | null>();
  for (const c of changes) if (c.diff?.path.startsWith('/') && !planned.has(c.diff.path)) planned.set(c.diff.path, c.diff.before);
  if (planned.size === 0) return host;
  const current = new Map(planned);
  const expect = (path: string, given: FileExpectation | undefined) =>
    given ?? (current.has(path) ? expectationOf(current.get(path)!) : undefined);
  return {
    get name() {
      return host.name;
    },
    get facts() {
      return host.facts;
    },
    exec: (argv, opts) => host.exec(argv, opts),
    sh: (script, opts) => host.sh(script, opts),
    run: (argv, opts) => host.run(argv, opts),
    read: (requests) => host.read(requests),
    async writeFile(path, content, opts = {}) {
      const written = await host.writeFile(path, content, { ...opts, expect: expect(path, opts.expect) });
      if (current.has(path)) current.set(path, content);
      return written;
    },
    async removeFile(path, opts = {}) {
      const removed = await host.removeFile(path, { ...opts, expect: expect(path, opts.expect) });
      if (current.has(path)) current.set(path, null);
      return removed;
    },
    async restoreFile(path, backup) {
      await host.restoreFile(path, backup);
      // a restore puts back what the plan read
      if (planned.has(path)) current.set(path, planned.get(path)!);
    },
    ...(host.reboot ? { reboot: (opts: { timeoutMs: number }) => host.reboot!(opts) } : {}),
  };
}

/** Apply one task's changes and note the finalize work they ask for. */
export async function applyTask(module: Module, changes: Change[], args: unknown, host: HostHandle, finalizers: Finalizers): Promise<void> {
  if (changes.length === 0) return;
  await module.apply(changes, expectingHost(host, changes), args);
  finalizers.add(module, changes);
}

export type AppliedResult = { result: 'applied' } | { result: 'failed'; error: string };

/**
 * Apply planned tasks in the runner's order: per play, the tasks, then the finalizers of the changes
 * made, then the handlers. `done` hears each task's outcome; the first failure stops the host.
 * Once `signal` is aborted (an interrupt) no further task starts; the finalizers of the changes
 * made still run, handlers do not (as the runner does).
 */
export async function applyPlanned(
  host: HostHandle,
  tasks: { planned: PlannedTask; module: Module }[],
  done: (index: number, outcome: AppliedResult) => void = () => undefined,
  signal?: AbortSignal,
): Promise<void> {
  const plays = [...new Set(tasks.map((t) => t.planned.play))];
  for (const play of plays) {
    const finalizers = new Finalizers();
    const inPlay = tasks.map((t, index) => ({ ...t, index })).filter((t) => t.planned.play === play);
    const ordered = [...inPlay.filter((t) => !t.planned.handler), null, ...inPlay.filter((t) => t.planned.handler)];
    for (const entry of ordered) {
      if (entry === null) {
        await finalizers.run(host);
        continue;
      }
      if (signal?.aborted) continue;
      try {
        await applyTask(entry.module, entry.planned.changes, entry.planned.args, host, finalizers);
        done(entry.index, { result: 'applied' });
      } catch (err) {
        done(entry.index, { result: 'failed', error: errorMessage(err) });
        throw err;
      }
    }
    if (signal?.aborted) return;
  }
}
