// What every tier-2 test file uses: the suite's VM (booted by global-setup.ts), and `hvtune play` against it.

import { readFileSync } from 'node:fs';
import { afterAll, inject } from 'vitest';
import { attachVm, type VmClient } from '../harness/vm.js';
import type { Lab } from '../../src/demo/lab/tier1.js';
import { play, type CliResult, type Report } from '../lab/play.js';

/** The suite's VM; prints the reboots this file made and how long they took. */
export function useVm(): () => VmClient {
  const vm = attachVm(inject('vm'));
  afterAll(() => {
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`vm reboots: ${vm.timings.reboots.map(seconds).join(', ') || 'none'} (load average ${load})`);
  });
  return () => vm;
}

/** `hvtune play --json` against the VM's inventory (play() reads only these three fields of a lab). */
export function playOn(
  vm: Pick<VmClient, 'dir' | 'inventoryPath' | 'knownHostsPath'>,
  playbookYaml: string,
  opts: { check?: boolean; diff?: boolean; args?: string[] } = {},
): Promise<CliResult & { report: Report }> {
  const { dir, inventoryPath, knownHostsPath } = vm;
  return play({ dir, inventoryPath, knownHostsPath } as Lab, playbookYaml, opts);
}

/** One line per change, for assertions and readable failures. */
export function changeLines(report: Report): string[] {
  return report.changes.map((c) => `${c.task}: ${c.target} (${c.effect})`);
}
