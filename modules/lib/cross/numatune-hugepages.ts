// A domain whose memory is huge pages and bound strictly to some NUMA nodes starts only when the
// pool of those nodes holds all of it. A boot pool (`hugepages=16`) is split evenly over the
// nodes, so half of it is on the node a strict numatune does not allow (seeds 003, 004).

import type { CrossCheck, CrossProblem } from '../../../src/module.js';
import { parseCpuset } from '../cpuset.js';
import { defaultPageKiB, desiredPools, domainViews, formatKiB, pageName } from './state.js';

const nodesText = (ids: number[]) => (ids.length === 1 ? `node ${ids[0]}` : `nodes ${ids.join(',')}`);

export const numatuneHugepages: CrossCheck = {
  id: 'numatune-hugepages',
  description:
    'a domain backed by huge pages with a strict numatune needs its whole memory in the pool of those nodes (error: it would not start)',
  wantsFacts: (module, args) =>
    module === 'libvirt_domain' && typeof args === 'object' && args !== null && ('numatune' in args || 'memory_backing' in args),
  check(input) {
    const problems: CrossProblem[] = [];
    const unknown: string[] = [];
    const domains = domainViews(input).filter((d) => d.hugepages && (d.numatune.mode === 'strict' || d.numatune.mode === 'restrictive'));
    if (domains.length === 0) return { problems };
    const nodes = input.facts.numa?.nodes;
    if (!nodes?.length) return { problems, unknown: ['the NUMA nodes of the host (no NUMA facts)'] };
    const pools = desiredPools(input);
    const sizeKiB = defaultPageKiB(input);
    const pool = pools.get(sizeKiB);
    for (const d of domains) {
      if (d.memoryKiB === null) {
        unknown.push(`the memory of domain ${d.name} (not read from the host, not in the facts)`);
        continue;
      }
      let wanted: number[];
      try {
        wanted = d.numatune.nodeset ? parseCpuset(d.numatune.nodeset) : nodes.map((n) => n.id);
      } catch {
        continue; // not a nodeset: the module's own error
      }
      const pages = wanted.reduce((sum, id) => {
        const at = nodes.findIndex((n) => n.id === id);
        return sum + (at === -1 || !pool ? 0 : (pool.perNode[at] ?? 0));
      }, 0);
      const haveKiB = pages * sizeKiB;
      if (haveKiB >= d.memoryKiB) continue;
      const where = nodesText(wanted);
      const source = pool ? pool.how : `the host pool (no ${pageName(sizeKiB)} pages)`;
      problems.push({
        severity: 'error',
        at: d.tasks.numatune ?? d.tasks.hugepages ?? d.task,
        message:
          `numatune ${d.numatune.mode} ${where} needs ${formatKiB(d.memoryKiB)} of ${pageName(sizeKiB)} pages on ${where} ` +
          `(domain ${d.name}); ${source} gives ${where} ${formatKiB(haveKiB)}: the domain would not start. ` +
          `Reserve the pages on ${where} (hugepages=${wanted.map((id) => `${id}:${Math.ceil(d.memoryKiB! / sizeKiB)}`).join(',')} on Linux 5.16+, ` +
          `or /sys/devices/system/node/nodeN/hugepages/…/nr_hugepages), or a boot pool large enough for every node`,
      });
    }
    return { problems, unknown };
  },
};
