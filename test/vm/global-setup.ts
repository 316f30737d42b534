// vitest globalSetup of the tier-2 suite: check the machine can run the VM, build or find the
// cached image (scripts/vm-image, several minutes the first time, instant later), boot the one VM
// the test files share (a boot costs minutes under TCG on a loaded machine; files run one after
// another and touch different parts of the guest), and stop it when the suite ends.

import { accessSync, constants, readFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startVm, vmImage, type VmInfo } from '../harness/vm.js';

declare module 'vitest' {
  export interface ProvidedContext {
    vm: VmInfo;
  }
}

const PREREQUISITES: [tool: string, pkg: string][] = [
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['qemu-img', 'qemu-utils'],
  ['mkfs.ext4', 'e2fsprogs'],
  ['ssh', 'openssh-client'],
  ['ssh-keygen', 'openssh-client'],
  ['ip', 'iproute2'],
  ['unshare', 'util-linux'],
  ['apt-get', 'apt'],
];

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => {
    try {
      accessSync(`${dir}/${tool}`, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0) throw new Error('the VM suite needs root (network namespaces, taps, image build)');
  const missing = PREREQUISITES.filter(([tool]) => !onPath(tool));
  if (missing.length > 0) {
    throw new Error(`the VM suite needs: ${missing.map(([t, p]) => `${t} (package ${p})`).join(', ')}; run scripts/setup`);
  }
  accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  const started = Date.now();
  // HVTUNE_VM_IMAGE: a directory scripts/vm-image printed, to run against an image built before.
  const imageDir = process.env.HVTUNE_VM_IMAGE || (await vmImage());
  console.log(`vm image ${imageDir} ready in ${seconds(Date.now() - started)} (load average ${loadAverage()})`);
  const vm = await startVm({ imageDir });
  console.log(`vm booted in ${seconds(vm.timings.boot)} (load average ${loadAverage()})`);
  project.provide('vm', vm.info());
  return async () => {
    await vm.stop();
  };
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
