// What every tier-2 test file uses: one VM for the file, and `hvtune play` against it.

import { afterAll, beforeAll, inject } from 'vitest';
import { startVm, type Vm } from '../../src/lab/vm.js';
import type { Lab } from '../../src/lab/tier1.js';
import { play, type CliResult, type Report } from '../lab/play.js';

/** Boot a VM before the file's tests and stop it after; prints the measured times. */
export function useVm(): () => Vm {
  let vm: Vm | undefined;
  beforeAll(async () => {
    vm = await startVm({ imageDir: inject('vmImageDir') });
  });
  afterAll(async () => {
    if (!vm) return;
    const t = vm.timings;
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(`vm timings: boot ${seconds(t.boot)}, reboots ${t.reboots.map(seconds).join(', ') || 'none'}`);
    await vm.stop();
  });
  return () => {
    if (!vm) throw new Error('the VM is not running (beforeAll failed?)');
    return vm;
  };
}

/** `hvtune play --json` against the VM's inventory (play() reads only these three fields of a lab). */
export function playOn(
  vm: Pick<Vm, 'dir' | 'inventoryPath' | 'knownHostsPath'>,
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
