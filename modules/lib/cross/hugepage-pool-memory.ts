// Huge pages are taken out of RAM when the pool is made, used or not. A pool larger than the
// host's memory cannot be made at all; larger than what is free now, the kernel makes fewer pages
// than asked (at runtime), and what is left for the host and its other guests shrinks.

import type { CrossCheck, CrossProblem } from '../../../src/module.js';
import { currentPools, desiredPools, formatKiB, pageName, poolTotal } from './state.js';

const HUGEPAGE_ARG = /(^|[^_])hugepages(sz)?=/;

export const hugepagePoolMemory: CrossCheck = {
  id: 'hugepage-pool-memory',
  description: "a huge page pool larger than the host's memory (error) or than its free memory (warning)",
  wantsFacts: (module, args) => {
    const text = JSON.stringify(args ?? '');
    if (module === 'grub_cmdline') return HUGEPAGE_ARG.test(text);
    if (module === 'sysctl') return text.includes('vm.nr_hugepages');
    if (module === 'sysfs') return text.includes('nr_hugepages');
    return false;
  },
  check(input) {
    const problems: CrossProblem[] = [];
    const pools = [...desiredPools(input).values()];
    const set = pools.filter((p) => p.task !== null);
    if (set.length === 0) return { problems };
    const memory = input.facts.memory;
    if (!memory?.totalKiB) return { problems, unknown: ["the host's memory (no memory facts)"] };
    const kib = (ps: typeof pools) => ps.reduce((sum, p) => sum + poolTotal(p) * p.sizeKiB, 0);
    const total = kib(pools);
    const now = kib([...currentPools(input.facts).values()]);
    const at = set[set.length - 1].task!;
    const what = set.map((p) => `${poolTotal(p)} pages of ${pageName(p.sizeKiB)} from ${p.how}`).join(', ');
    if (total > memory.totalKiB) {
      problems.push({
        severity: 'error',
        at,
        message: `the huge page pool would hold ${formatKiB(total)} (${what}); the host has ${formatKiB(memory.totalKiB)} of memory in all: it cannot be reserved`,
      });
    } else if (memory.freeKiB !== null && total - now > memory.freeKiB) {
      problems.push({
        severity: 'warning',
        at,
        message: `the huge page pool would hold ${formatKiB(total)} (${what}), ${formatKiB(total - now)} more than now, and the host has ${formatKiB(memory.freeKiB)} free: the kernel makes fewer pages than asked, and the host keeps little for itself`,
      });
    }
    return { problems };
  },
};
