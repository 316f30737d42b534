import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the full-VM tier has its own suite: npm run test:vm
    exclude: ['test/vm/**', 'node_modules/**'],
    globalSetup: ['test/lab/global-setup.ts'],
    // lab tests run real daemons on a shared 2-core machine: generous, but a hang still ends
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // the machine's own ~/.ssh/config must not change what a test connects to
    env: { HVTUNE_SSH_CONFIG: '' },
  },
});
