// Run records, saved plans and saved facts hold what managed files held: owner-only on the controller.

import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { writePrivateFile } from '../../src/private-file.js';
import { writeRecord, type RunRecord } from '../../src/records.js';

const dir = mkdtempSync(join(tmpdir(), 'hvtune-private-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a run record is 0600 in a 0700 directory it makes, and leaves no temp file', () => {
  const record: RunRecord = {
    format: 'hvtune-run',
    version: 1,
    id: 'abcd1234',
    command: 'play',
    startedAt: '2026-11-30T12:00:00.000Z',
    finishedAt: '2026-11-30T12:00:01.000Z',
    inputs: { playbook: null, inventory: { path: '/inv.yml', sha256: null }, templates: [] },
    hosts: {},
  };
  const runs = join(dir, '.hvtune', 'runs');
  const path = writeRecord(runs, record);
  expect(statSync(runs).mode & 0o777).toBe(0o700);
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(readdirSync(runs)).toEqual([path.slice(runs.length + 1)]);
});

it('a plan or facts file is 0600, also when it replaces a readable one', () => {
  const path = join(dir, 'plan.json');
  writeFileSync(path, '{}\n', { mode: 0o644 });
  writePrivateFile(path, '{"again": true}\n');
  expect(statSync(path).mode & 0o777).toBe(0o600);
});
