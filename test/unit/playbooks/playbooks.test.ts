// Every playbook of the project loads and validates with the real module registry, and carries no
// dated advice (the seeds' dated steps are explained in comments, not repeated).

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { datedAdvice } from '../../../src/dated.js';
import { formatProblem } from '../../../src/errors.js';
import { loadProjectPlaybook } from './render.js';

const dir = fileURLToPath(new URL('../../../playbooks/', import.meta.url));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yml'))
  .sort();

describe.each(files)('playbooks/%s', (file) => {
  it('loads and validates with the real modules', async () => {
    const playbook = await loadProjectPlaybook(file);
    expect(playbook.plays.length).toBeGreaterThan(0);
    for (const play of playbook.plays) expect(play.tasks.length).toBeGreaterThan(0);
  });

  it('has no dated advice', async () => {
    expect(datedAdvice(await loadProjectPlaybook(file)).map(formatProblem)).toEqual([]);
  });
});

it('one playbook per topic of the facts issue', () => {
  expect(files).toEqual(
    expect.arrayContaining(['kvm-host-network.yml', 'virtio-multiqueue.yml', 'numa-pinning.yml', 'hugepages.yml', 'memory-and-disk.yml']),
  );
  for (const old of ['host-tuning.yml', 'memory-and-disk-host.yml', 'kvm-domain-tuning.yml', 'virtio-multiqueue-host.yml'])
    expect(files).not.toContain(old);
});
