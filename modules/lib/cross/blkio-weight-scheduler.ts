// blkiotune weights are honoured by the bfq scheduler (cgroup v1 blkio.weight, v2 io.bfq.weight)
// or by the io.cost controller of cgroup v2; mq-deadline, kyber and none ignore them, so a weight
// with one of those schedulers does nothing.

import type { CrossCheck, CrossProblem, CrossTask } from '../../../src/module.js';
import { domainViews, tasksOf } from './state.js';

const IGNORES_WEIGHTS = new Set(['mq-deadline', 'none', 'kyber', 'deadline', 'noop']);
const SCHEDULER_PATH = /^\/sys\/block\/([^/]+)\/queue\/scheduler$/;

/** Schedulers the play's sysfs tasks set: device (or match) → scheduler, and the task. */
function schedulers(tasks: readonly CrossTask[]): { devices: string; scheduler: string; task: CrossTask }[] {
  const out: { devices: string; scheduler: string; task: CrossTask }[] = [];
  for (const t of tasks) {
    const a = t.args as { path?: string; value?: unknown; block?: { match: string; attributes: Record<string, unknown> } };
    const bracket = (v: unknown) =>
      String(v)
        .trim()
        .replace(/^\[(.*)\]$/, '$1');
    if (a.block?.attributes['queue/scheduler'] !== undefined)
      out.push({ devices: a.block.match, scheduler: bracket(a.block.attributes['queue/scheduler']), task: t });
    const m = typeof a.path === 'string' ? SCHEDULER_PATH.exec(a.path) : null;
    if (m && a.value !== undefined) out.push({ devices: m[1], scheduler: bracket(a.value), task: t });
  }
  return out;
}

export const blkioWeightScheduler: CrossCheck = {
  id: 'blkio-weight-scheduler',
  description: 'a blkiotune weight while the I/O scheduler set for the disks ignores weights (warning: mq-deadline, kyber, none)',
  check(input) {
    const problems: CrossProblem[] = [];
    const set = schedulers(tasksOf(input, 'sysfs'));
    const ignoring = set.filter((s) => IGNORES_WEIGHTS.has(s.scheduler));
    if (ignoring.length === 0) return { problems };
    const where = ignoring.map((s) => `${s.devices} to ${s.scheduler}`).join(', ');
    for (const d of domainViews(input)) {
      if (d.blkioWeight === null || !d.tasks.blkiotune) continue;
      problems.push({
        severity: 'warning',
        at: d.tasks.blkiotune,
        message:
          `blkiotune weight ${d.blkioWeight} on domain ${d.name} does nothing: the I/O scheduler is set (${where}), which ignores weights; ` +
          'weights need bfq, or the io.cost controller of cgroup v2',
      });
    }
    return { problems };
  },
};
