// Writes cut short (issue 15, finding 1): the controller killed mid-transfer, the host's writer
// killed mid-write, the connection cut mid-write. A file of a few MB travels to a host whose own
// veth end is throttled by tc inside its network namespace, so each fault lands while the bytes
// are still arriving. Each time the file must be the old content or the new one, byte for byte,
// no temp file may stay, and the next run must converge (a run after it changes nothing).

import { afterEach, describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { labFile, play } from '../play.js';
import { bigFile, slowLink, startController, tempFiles, until, type Controller } from './fault-helpers.js';

const lab = useLab({ hosts: 3 });
const DIR = '/etc/hvtune';
const PATH = `${DIR}/big.conf`;
const OLD = bigFile('old', 10);
const NEW = bigFile('new', 40_000); // about 3 MB
/** Enough of the new file arrived that the transfer is under way; well short of all of it. */
const UNDER_WAY = 128 * 1024;

const playbook = (host: string, template: string) => `
- name: a large file
  hosts: ${host}
  tasks:
    - name: big
      file: { path: ${PATH}, template: ${template} }
`;

/** How to take back each slowLink still in force. */
const slowed: (() => Promise<void>)[] = [];
async function undoFaults(): Promise<void> {
  for (const undo of slowed.splice(0).reverse()) await undo();
}
const controllers: Controller[] = [];
afterEach(async () => {
  for (const c of controllers.splice(0)) await c.kill();
  await undoFaults();
});

/** Start writing NEW to `host` from a controller of its own; resolves once part of it arrived. */
async function writeUnderWay(host: string): Promise<{ controller: Controller; temp: string }> {
  await lab().writeFile(host, PATH, OLD);
  slowed.push(await slowLink(lab(), host));
  const controller = startController(lab(), playbook(host, labFile(lab(), 'big.txt', NEW)), ['--json']);
  controllers.push(controller);
  const temp = await until(
    'the transfer to be under way',
    async () => {
      if (controller.child.exitCode !== null) throw new Error(`the controller ended early:\n${controller.output()}`);
      const [t] = await tempFiles(lab(), host, DIR);
      return t && t.size >= UNDER_WAY ? t : undefined;
    },
    60_000,
    10,
  );
  expect(temp.size).toBeLessThan(NEW.length);
  return { controller, temp: temp.name };
}

/** The file is OLD or NEW byte for byte, and no temp file is left (the writer may need a moment to notice). */
async function wholeAndClean(host: string): Promise<'old' | 'new'> {
  await until('the temp file to be removed', async () => ((await tempFiles(lab(), host, DIR)).length === 0 ? true : undefined), 10_000);
  const content = await lab().readFile(host, PATH);
  if (content === OLD) return 'old';
  if (content === NEW) return 'new';
  throw new Error(`${host}:${PATH} is neither the old nor the new content: ${content?.length ?? 'no'} bytes`);
}

/** With the faults undone, the next run installs NEW; the one after it changes nothing. */
async function converges(host: string): Promise<void> {
  await undoFaults();
  const template = labFile(lab(), 'big.txt', NEW);
  const next = await play(lab(), playbook(host, template));
  expect(next.code, next.stdout + next.stderr).toBe(0);
  expect(await lab().readFile(host, PATH)).toBe(NEW);
  const again = await play(lab(), playbook(host, template));
  expect(again.code).toBe(0);
  expect(again.report.changes).toEqual([]);
  expect(await tempFiles(lab(), host, DIR)).toEqual([]);
}

describe('a write cut short', () => {
  it('controller killed (SIGKILL) mid-transfer: the old file stays whole, the next run converges', async () => {
    const { controller } = await writeUnderWay('hv1');
    await controller.kill();
    expect(await wholeAndClean('hv1')).toBe('old');
    await converges('hv1');
  });

  it("the host's writer killed mid-write (its cat, its shell): the old file stays whole, the run fails the host", async () => {
    // every process of the host that has a temp file of hvtune's open: the `cat` of the write script
    const killWriters = () =>
      lab().exec('hv2', [
        'sh',
        '-c',
        'for f in /proc/[0-9]*/fd/*; do case "$(readlink "$f")" in *.hvtune-tmp.*) p=${f#/proc/}; kill -KILL "${p%%/*}";; esac; done',
      ]);
    const failedOn = (c: Controller) => JSON.parse(c.stdout());

    const cat = await writeUnderWay('hv2');
    await killWriters();
    expect(await cat.controller.exited).toBe(1);
    const report = failedOn(cat.controller);
    expect(report.recap.hv2).toMatchObject({ changed: 0, failed: 1 });
    expect(report.failures[0].message).toContain(`write ${PATH}`);
    expect(await wholeAndClean('hv2')).toBe('old');
    await undoFaults();

    // the script's own shell, told to stop (its PID is the temp file's suffix): it cleans up
    const term = await writeUnderWay('hv2');
    await lab().exec('hv2', ['kill', '-TERM', term.temp.split('.').pop()!]);
    await undoFaults(); // the shell acts on TERM once its cat has read to the end: let the rest come fast
    expect(await term.controller.exited).toBe(1);
    expect(failedOn(term.controller).recap.hv2).toMatchObject({ changed: 0, failed: 1 });
    expect(await wholeAndClean('hv2')).toBe('old');
    await undoFaults();

    // the shell killed outright: nothing of it runs again, and what it was writing is never
    // installed. Its temp file stays behind until the next write of the file, which removes the
    // temp files of writers that are gone (issue 15, finding 14): converges() checks none is left.
    const killed = await writeUnderWay('hv2');
    await lab().exec('hv2', ['kill', '-KILL', killed.temp.split('.').pop()!]);
    await undoFaults(); // its cat reads on to the end
    expect(await killed.controller.exited).toBe(1);
    expect(failedOn(killed.controller).recap.hv2).toMatchObject({ changed: 0, failed: 1 });
    expect(await lab().readFile('hv2', PATH)).toBe(OLD);
    expect((await tempFiles(lab(), 'hv2', DIR)).map((t) => t.name)).toEqual([killed.temp]);
    await converges('hv2');
  });

  it('the connection cut mid-write (its sshd killed on the host): the host fails, the old file stays whole, the next run converges', async () => {
    const { controller } = await writeUnderWay('hv3');
    // the per-connection sshd processes, never the host's listening sshd (its init)
    await lab().exec('hv3', ['pkill', '-KILL', '-f', '^sshd: root@']);
    expect(await controller.exited).toBe(1);
    const report = JSON.parse(controller.stdout());
    expect(report.recap.hv3.changed).toBe(0);
    expect(report.failures.map((f: { message: string }) => f.message).join('\n')).toMatch(/hv3: connection lost/);
    expect(await wholeAndClean('hv3')).toBe('old');
    await converges('hv3');
  });
});
