// Static pins (vcpupin, emulatorpin) compete with daemons that place threads themselves: numad
// moves a process's CPUs and memory to the node it picks, and tuned's cpu-partitioning and
// realtime profiles move threads off the cores they isolate. Facts say which of them run.

import type { CrossCheck, CrossProblem } from '../../../src/module.js';
import { formatCpuList } from '../../../src/facts/cpulist.js';
import { parseCpuset } from '../cpuset.js';
import { domainViews } from './state.js';

/** tuned profiles whose scheduler plugin moves threads by the cores it isolates. */
const MOVING_PROFILES = new Set(['cpu-partitioning', 'realtime', 'realtime-virtual-host', 'realtime-virtual-guest']);

export const pinningDaemons: CrossCheck = {
  id: 'pinning-daemons',
  description: 'static vcpupin/emulatorpin while numad runs, or tuned runs a profile that moves threads (warning)',
  wantsFacts: (module, args) => module === 'libvirt_domain' && typeof args === 'object' && args !== null && 'cputune' in args,
  check(input) {
    const problems: CrossProblem[] = [];
    const pinned = domainViews(input).filter((d) => d.tasks.pins);
    if (pinned.length === 0) return { problems };
    const daemons = input.facts.daemons;
    if (!daemons) return { problems, unknown: ['whether numad or tuned run (facts without daemons)'] };
    for (const d of pinned) {
      const pins = [...Object.values(d.vcpupin), ...(d.emulatorpin ? [d.emulatorpin] : [])];
      const what = [Object.keys(d.vcpupin).length ? 'vcpupin' : '', d.emulatorpin ? 'emulatorpin' : ''].filter(Boolean).join(' and ');
      if (daemons.running.includes('numad')) {
        problems.push({
          severity: 'warning',
          at: d.tasks.pins!,
          message: `static ${what} on domain ${d.name} while numad runs: numad moves the domain's threads and memory to the node it picks, over the pins; stop and disable numad, or leave placement to it`,
        });
      }
      const profile = daemons.tuned.profile;
      if (daemons.running.includes('tuned') && profile && MOVING_PROFILES.has(profile)) {
        let cpus: number[] = [];
        try {
          cpus = [...new Set(pins.flatMap((p) => parseCpuset(p)))].sort((a, b) => a - b);
        } catch {
          continue;
        }
        const isolated = daemons.tuned.isolatedCores;
        const outside = isolated ? cpus.filter((c) => !isolated.includes(c)) : cpus;
        if (isolated && outside.length === 0) continue;
        problems.push({
          severity: 'warning',
          at: d.tasks.pins!,
          message: isolated
            ? `static ${what} on domain ${d.name} puts threads on CPUs ${formatCpuList(outside)}, outside the cores tuned's ${profile} profile isolates (${formatCpuList(isolated)}): tuned keeps the host's own threads there`
            : `static ${what} on domain ${d.name} while tuned runs the ${profile} profile, which moves threads by the cores it isolates (its isolated_cores are not known): pin inside them`,
        });
      }
    }
    return { problems };
  },
};
