// The tier-2 suite (`npm run test:vm`): one real VM under QEMU/TCG, booted by the global setup and
// shared by the test files, which run one after another; timeouts sized for reboots on a busy machine.

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/vm/**/*.test.ts'],
    globalSetup: ['test/vm/global-setup.ts'],
    pool: 'forks',
    // the machine's own ~/.ssh/config must not change what a test connects to
    env: { HVTUNE_SSH_CONFIG: '' },
    fileParallelism: false,
    maxWorkers: 1,
    // a test with a reboot: about 30 s on an idle machine, ten times that on a busy one
    testTimeout: 1_500_000,
    hookTimeout: 300_000,
  },
});
