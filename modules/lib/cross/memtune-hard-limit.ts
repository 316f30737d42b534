// A memtune hard_limit below the domain's memory: the cgroup caps QEMU under what the guest was
// given, and the kernel kills QEMU (or the guest cannot start) once the guest uses its memory.
// libvirt's documentation: the limit must cover the guest's memory plus QEMU's own overhead.

import type { CrossCheck, CrossProblem } from '../../../src/module.js';
import { domainViews, formatKiB } from './state.js';

export const memtuneHardLimit: CrossCheck = {
  id: 'memtune-hard-limit',
  description: "a memtune hard_limit below the domain's memory (error: QEMU is killed as the guest uses its memory)",
  check(input) {
    const problems: CrossProblem[] = [];
    const unknown: string[] = [];
    for (const d of domainViews(input)) {
      if (d.hardLimitKiB === null || !d.tasks.memtune) continue;
      if (d.memoryKiB === null) {
        unknown.push(`the memory of domain ${d.name} (not read from the host, not in the facts)`);
        continue;
      }
      if (d.hardLimitKiB >= d.memoryKiB) continue;
      problems.push({
        severity: 'error',
        at: d.tasks.memtune,
        message:
          `memtune hard_limit ${formatKiB(d.hardLimitKiB)} on domain ${d.name} is below its memory of ${formatKiB(d.memoryKiB)}: ` +
          "QEMU would be killed by the cgroup's OOM killer as the guest uses its memory; give at least the memory plus QEMU's overhead, or no hard limit",
      });
    }
    return { problems, unknown };
  },
};
