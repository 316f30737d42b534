// Which placement daemons run (numad, tuned, irqbalance) and tuned's isolated cores: parsed from
// gatherer output, and read for real from this machine's /proc with a process the test starts.

import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FACTS_SCRIPT, parseFacts } from '../../../src/facts.js';
import { execFileSync } from 'node:child_process';

const output = (lines: string[]) =>
  ['@@hvtune:files', '/proc/sys/kernel/hostname:h', '/proc/sys/kernel/osrelease:4.18.0', ...lines, '@@hvtune:end'].join('\n');

describe('daemon facts', () => {
  it('reads running daemons from /proc/PID/comm and the cores tuned isolates', () => {
    const f = parseFacts(
      output([
        '/etc/tuned/active_profile:cpu-partitioning',
        '/etc/tuned/cpu-partitioning-variables.conf:# cores for the guests',
        '/etc/tuned/cpu-partitioning-variables.conf:isolated_cores=2-9,12-19',
        '@@hvtune:daemons',
        '/proc/812/comm:numad',
        '/proc/900/comm:tuned',
      ]),
    );
    expect(f.daemons).toEqual({
      running: ['numad', 'tuned'],
      tuned: { profile: 'cpu-partitioning', isolatedCores: [2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 18, 19] },
    });
  });

  it("leaves tuned's cores unknown when the variables file computes them, and daemons absent without the section", () => {
    const f = parseFacts(
      output([
        '/etc/tuned/active_profile:cpu-partitioning',
        '/etc/tuned/cpu-partitioning-variables.conf:isolated_cores=${f:calc_isolated_cores:1}',
        '@@hvtune:daemons',
      ]),
    );
    expect(f.daemons).toEqual({ running: [], tuned: { profile: 'cpu-partitioning', isolatedCores: null } });
    expect(parseFacts(output([])).daemons).toBeUndefined();
  });
});

describe('the gatherer on this machine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvtune-daemons-'));
  // a process whose name is numad: a copy of sleep, ended by its PID
  const numad = join(dir, 'numad');
  copyFileSync('/bin/sleep', numad);
  const child = spawn(numad, ['60'], { stdio: 'ignore' });
  afterAll(() => {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds a running process named numad', async () => {
    await new Promise((r) => setTimeout(r, 100));
    const f = parseFacts(execFileSync('sh', ['-c', FACTS_SCRIPT], { encoding: 'utf8' }));
    expect(f.daemons?.running).toContain('numad');
  });
});
