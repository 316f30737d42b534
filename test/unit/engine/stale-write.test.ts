// The engine threads what each task read to its writes (issue 15, finding 6): a file changed
// between plan and apply — by another run or another tool — fails the task and is left as it is;
// never a silent lost update. The lineinfile module on this machine's shell, in a scratch dir.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalShell, RemoteHost } from '../../../src/host.js';
import { applyPlanned } from '../../../src/engine/apply.js';
import { planTasks } from '../../../src/engine/plan.js';
import { lineinfile } from '../../../modules/lineinfile.js';
import type { PlannedTask } from '../../../src/engine/types.js';

let dir: string;
let host: RemoteHost;
const facts = { hostname: 'local', kernel: { release: '6.1.0', version: [6, 1, 0] as [number, number, number] } };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hvtune-stale-'));
  host = new RemoteHost('local', new LocalShell(), facts, undefined, join(dir, 'backups'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Plan a lineinfile task now; apply it later. */
async function planLine(path: string, line: string): Promise<{ planned: PlannedTask; module: typeof lineinfile }> {
  const args = { path, line, regexp: `^${line.split(' ')[0]} `, create: true };
  const [plan] = await planTasks(host, facts, [{ module: lineinfile, args }], { overlay: true });
  if ('error' in plan) throw new Error(plan.error);
  expect(plan.result.changes).toHaveLength(1);
  return {
    planned: { play: 0, task: line, module: 'lineinfile', handler: false, args, changes: plan.result.changes, pending: [] },
    module: lineinfile,
  };
}

describe('writes from a stale read', () => {
  it('two runs planned on the same file: the second to apply fails, the first key is kept', async () => {
    const path = join(dir, '60-shared.conf');
    writeFileSync(path, '# shared\n');
    const first = await planLine(path, 'a = 1');
    const second = await planLine(path, 'b = 2');
    await applyPlanned(host, [first]);
    const outcomes: unknown[] = [];
    await expect(applyPlanned(host, [second], (_i, o) => outcomes.push(o))).rejects.toThrow(
      `${path} changed on the host since it was read: re-run to plan again`,
    );
    expect(outcomes).toEqual([{ result: 'failed', error: expect.stringContaining('changed on the host since it was read') }]);
    expect(readFileSync(path, 'utf8')).toBe('# shared\na = 1\n');
    // planned again, the second run adds its key to the first's
    await applyPlanned(host, [await planLine(path, 'b = 2')]);
    expect(readFileSync(path, 'utf8')).toBe('# shared\na = 1\nb = 2\n');
  });

  it('a file created by someone else between plan and apply is not overwritten', async () => {
    const path = join(dir, 'new.conf');
    const task = await planLine(path, 'a = 1');
    writeFileSync(path, 'theirs\n');
    await expect(applyPlanned(host, [task])).rejects.toThrow('changed on the host since it was read');
    expect(readFileSync(path, 'utf8')).toBe('theirs\n');
  });

  it('two tasks of one run on the same file both land (each expects what the one before wrote)', async () => {
    const path = join(dir, 'chain.conf');
    writeFileSync(path, '');
    const args = [
      { path, line: 'a = 1', regexp: '^a ' },
      { path, line: 'b = 2', regexp: '^b ' },
    ];
    const plans = await planTasks(
      host,
      facts,
      args.map((a) => ({ module: lineinfile, args: a })),
      { overlay: true },
    );
    const tasks = plans.map((p, i) => {
      if ('error' in p) throw new Error(p.error);
      return {
        planned: { play: 0, task: `t${i}`, module: 'lineinfile', handler: false, args: args[i], changes: p.result.changes, pending: [] },
        module: lineinfile,
      };
    });
    await applyPlanned(host, tasks);
    expect(readFileSync(path, 'utf8')).toBe('a = 1\nb = 2\n');
  });
});
