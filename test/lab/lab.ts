// useLab: one tier-1 lab per test file, created before its tests and destroyed after them.

import { afterAll, beforeAll } from 'vitest';
import { createLab, type Lab, type LabOptions } from '../../src/demo/lab/tier1.js';

/** Create a lab in beforeAll, destroy it in afterAll; the getter returns it inside tests and hooks. */
export function useLab(opts?: LabOptions): () => Lab {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await createLab(opts);
  });
  afterAll(async () => {
    await lab?.destroy();
  });
  return () => {
    if (!lab) throw new Error('the lab exists only inside tests and hooks (after beforeAll)');
    return lab;
  };
}
