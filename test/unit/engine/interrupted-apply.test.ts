// A saved plan's apply once interrupted (issue 15, finding 10): the task in flight ends, no later
// task starts, and the outcome says which ran. lineinfile on this machine's shell, in a scratch dir.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalShell, RemoteHost } from '../../../src/host.js';
import { applyPlanned, type AppliedResult } from '../../../src/engine/apply.js';
import { planTasks } from '../../../src/engine/plan.js';
import { lineinfile } from '../../../modules/lineinfile.js';

let dir: string;
let host: RemoteHost;
const facts = { hostname: 'local', kernel: { release: '6.1.0', version: [6, 1, 0] as [number, number, number] } };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hvtune-interrupted-'));
  host = new RemoteHost('local', new LocalShell(), facts, undefined, join(dir, 'backups'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('applyPlanned after an interrupt', () => {
  it('finishes the task in flight and starts no other', async () => {
    const path = join(dir, 'a.conf');
    writeFileSync(path, '');
    const args = ['a = 1', 'b = 2', 'c = 3'].map((line) => ({ path, line, regexp: `^${line[0]} ` }));
    const plans = await planTasks(
      host,
      facts,
      args.map((a) => ({ module: lineinfile, args: a })),
      { overlay: true },
    );
    const tasks = plans.map((p, i) => {
      if ('error' in p) throw new Error(p.error);
      const planned = {
        play: 0,
        task: `t${i}`,
        module: 'lineinfile',
        handler: false,
        args: args[i],
        changes: p.result.changes,
        pending: [],
      };
      return { planned, module: lineinfile };
    });
    const stop = new AbortController();
    const outcomes = new Map<number, AppliedResult>();
    await applyPlanned(
      host,
      tasks,
      (i, outcome) => {
        outcomes.set(i, outcome);
        stop.abort('SIGINT'); // the signal comes while the first task runs
      },
      stop.signal,
    );
    expect([...outcomes]).toEqual([[0, { result: 'applied' }]]);
    expect(readFileSync(path, 'utf8')).toBe('a = 1\n');
  });
});
