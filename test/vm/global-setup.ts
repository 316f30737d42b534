// vitest globalSetup of the tier-2 suite: check the machine can run the VM, then build or find the
// cached image (scripts/vm-image, several minutes the first time, instant later) so that no test
// file pays for it, and hand its directory to the tests.

import { accessSync, constants } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { vmImage } from '../../src/lab/vm.js';

declare module 'vitest' {
  export interface ProvidedContext {
    vmImageDir: string;
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

export default async function setup(project: TestProject): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the VM suite needs root (network namespaces, taps, image build)');
  const missing = PREREQUISITES.filter(([tool]) => !onPath(tool));
  if (missing.length > 0) {
    throw new Error(`the VM suite needs: ${missing.map(([t, p]) => `${t} (package ${p})`).join(', ')}; run scripts/setup`);
  }
  accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  const started = Date.now();
  const dir = await vmImage();
  console.log(`vm image ${dir} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide('vmImageDir', dir);
}
