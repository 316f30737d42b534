// Sysctls that are ceilings the kernel sizes for the machine (file handles, map areas, PIDs,
// connection tracking): tuning raises them; set below what the kernel has now, a playbook written
// for a smaller host would take capacity away. Judged against the live value the task read.

import type { CrossCheck, CrossProblem } from '../../../src/module.js';
import { tasksOf } from './state.js';

/** Ceilings where lowering is never what tuning means. */
export const MAXIMUM_SYSCTLS = [
  'fs.file-max',
  'fs.nr_open',
  'fs.aio-max-nr',
  'fs.inotify.max_user_watches',
  'fs.inotify.max_user_instances',
  'kernel.pid_max',
  'kernel.threads-max',
  'vm.max_map_count',
  'net.netfilter.nf_conntrack_max',
  'net.nf_conntrack_max',
];

const whole = (v: unknown): bigint | null => {
  const s = String(v ?? '').trim();
  return /^\d+$/.test(s) ? BigInt(s) : null;
};

export const sysctlMaxLowered: CrossCheck = {
  id: 'sysctl-max-lowered',
  description: `a ceiling sysctl set below what the kernel has now (warning): ${MAXIMUM_SYSCTLS.join(', ')}`,
  needsObserved: true,
  check(input) {
    const problems: CrossProblem[] = [];
    for (const t of tasksOf(input, 'sysctl')) {
      const values = (t.args as { values?: Record<string, unknown> }).values ?? {};
      const live = (t.observed as { keys?: Record<string, { live: string | null }> } | undefined)?.keys ?? {};
      for (const key of MAXIMUM_SYSCTLS) {
        if (!(key in values)) continue;
        const wanted = whole(values[key]);
        // the value the kernel had before this run: a change's `before`, else the live read
        const change = t.changes.find((c) => c.target === `sysctl:${key}`);
        const now = whole(change?.before ?? live[key]?.live);
        if (wanted === null || now === null || wanted >= now) continue;
        problems.push({
          severity: 'warning',
          at: t,
          message: `${key} ${wanted} is below what the kernel has now (${now}): it is a ceiling, and lowering it takes capacity away; leave it, or set at least ${now}`,
        });
      }
    }
    return { problems };
  },
};
