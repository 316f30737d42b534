// Apply: a task's planned changes through its module, the once-per-host work they ask for
// (finalizers: grub regenerated once however many tasks edited it), in the order every command
// keeps: per play, its tasks, then its finalizers, then its handlers.

import type { Change, HostHandle, Module } from '../module.js';
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

/** Apply one task's changes and note the finalize work they ask for. */
export async function applyTask(module: Module, changes: Change[], args: unknown, host: HostHandle, finalizers: Finalizers): Promise<void> {
  if (changes.length === 0) return;
  await module.apply(changes, host, args);
  finalizers.add(module, changes);
}

export type AppliedResult = { result: 'applied' } | { result: 'failed'; error: string };

/**
 * Apply planned tasks in the runner's order: per play, the tasks, then the finalizers of the changes
 * made, then the handlers. `done` hears each task's outcome; the first failure stops the host.
 */
export async function applyPlanned(
  host: HostHandle,
  tasks: { planned: PlannedTask; module: Module }[],
  done: (index: number, outcome: AppliedResult) => void = () => undefined,
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
      try {
        await applyTask(entry.module, entry.planned.changes, entry.planned.args, host, finalizers);
        done(entry.index, { result: 'applied' });
      } catch (err) {
        done(entry.index, { result: 'failed', error: errorMessage(err) });
        throw err;
      }
    }
  }
}
