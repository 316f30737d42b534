// Two writers at once (issue 15, finding 6's scene): two `hvtune play` processes started together
// on the same host, each writing its own content to the same file. The host lock lets one of them
// in; the other fails that host at once, naming the holder, and changes nothing. The file is then
// exactly the winner's content; running the loser again converges, and a run after it changes nothing.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { labFile, play } from '../play.js';
import { startController } from './fault-helpers.js';

const lab = useLab({ hosts: 1 });
const PATH = '/etc/hvtune/shared.conf';
const OLD = '# nobody wrote here yet\n';

/** Writer `who`'s content; a slow handler keeps the run, and its lock, on the host a while after the write. */
const content = (who: string) => `# written by run ${who}\n${`${who} `.repeat(20_000)}\n`;
const playbook = (who: string) => `
- name: writer ${who}
  hosts: lab
  tasks:
    - name: shared file
      file: { path: ${PATH}, template: ${labFile(lab(), `${who}.txt`, content(who))} }
      notify: reload the service that reads it
  handlers:
    - name: reload the service that reads it
      command: { argv: [sleep, "2"] }
`;

const LOCKED = /^hv1: locked by run ([0-9a-f]+) from (\S+), user (\S+), since (\S+); nothing was changed on it$/;

/** The id of the run record a run printed the path of. */
const recordId = (stderr: string): string => JSON.parse(readFileSync(/run record: (\S+)/.exec(stderr)![1], 'utf8')).id;

describe('two writers at once', () => {
  it('one gets the host, the other fails it naming the holder; the file is one run exactly; the loser again converges', async () => {
    await lab().writeFile('hv1', PATH, OLD);
    const runs = { A: startController(lab(), playbook('A'), ['--json']), B: startController(lab(), playbook('B'), ['--json']) };
    const codes = { A: await runs.A.exited, B: await runs.B.exited };
    const reports = { A: JSON.parse(runs.A.stdout()), B: JSON.parse(runs.B.stdout()) };

    const winners = (['A', 'B'] as const).filter((who) => reports[who].recap.hv1.changed > 0);
    expect(winners, runs.A.output() + runs.B.output()).toHaveLength(1);
    const [winner] = winners;
    const loser = winner === 'A' ? 'B' : 'A';
    expect(codes[winner]).toBe(0);
    expect(codes[loser]).toBe(1);
    expect(await lab().readFile('hv1', PATH)).toBe(content(winner));

    expect(reports[loser].recap.hv1).toMatchObject({ changed: 0, failed: 1 });
    const [failure] = reports[loser].failures;
    const [, holder, controller] = LOCKED.exec(failure.message) ?? [];
    expect(failure.message).toMatch(LOCKED);
    expect({ holder, controller }).toEqual({ holder: recordId(runs[winner].stderr()), controller: hostname() });

    // the loser again, alone: its content, exactly; then nothing left to change
    const again = await play(lab(), playbook(loser));
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.report.changes.map((c) => c.target)).toContain(PATH);
    expect(await lab().readFile('hv1', PATH)).toBe(content(loser));
    const last = await play(lab(), playbook(loser));
    expect(last.code).toBe(0);
    expect(last.report.changes).toEqual([]);
  });
});
