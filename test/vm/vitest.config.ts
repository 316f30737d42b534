// The tier-2 suite (`npm run test:vm`): one real VM per test file, booted under QEMU/TCG, files run
// one after another (each VM takes about one core), with timeouts sized for boots and reboots.

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/vm/**/*.test.ts'],
    globalSetup: ['test/vm/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 900_000,
    // beforeAll boots the VM (about 30 s, several times that on a loaded machine)
    hookTimeout: 900_000,
  },
});
