// Issue 15, finding 6: two runs on one host both reported success and the shared sysctl.d file kept
// one key of two. Every write now expects what its plan read, checked on the host right before the
// rename: two writers end with both keys, or with one run failing — never a silent lost update.
// Saved plans on a real lab host; the gap between a run's read and its write is opened on purpose
// through the engine's lock hook, which a run awaits after its read and before it writes.

import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { hvtune, labFile } from '../play.js';
import { applySavedPlan, type ApplyResult, type HostConnector } from '../../../src/engine/saved-plan.js';
import { readPlan } from '../../../src/planfile.js';
import { loadInventory, loadModules, hostConnector } from '../../../src/commands/session.js';
import { hostLock } from '../../../src/host-lock.js';
import { newRunId } from '../../../src/records.js';

const lab = useLab({ hosts: 1 });
const FILE = '/etc/sysctl.d/60-shared.conf';
const FIN = 'net.ipv4.tcp_fin_timeout';
const PROBES = 'net.ipv4.tcp_keepalive_probes';
const STALE = 'changed on the host since it was read: re-run to plan again';

const playbook = (key: string, value: number) => `
- name: ${key}
  hosts: lab
  tasks:
    - name: set ${key}
      sysctl:
        file: ${FILE}
        values: { ${key}: ${value} }
`;

async function live(key: string): Promise<string> {
  return (await lab().readFile(lab().hosts[0].name, `/proc/sys/${key.replace(/\./g, '/')}`))!.trim();
}

/** Put the keys and the file back as the lab host had them. */
async function reset(original: Record<string, string>): Promise<void> {
  const host = lab().hosts[0].name;
  for (const [key, value] of Object.entries(original)) await lab().exec(host, ['sysctl', '-q', '-w', `${key}=${value}`]);
  await lab().exec(host, ['rm', '-f', FILE]);
}

/** `hvtune plan` of setting one key; returns the plan file. */
async function planOf(dir: string, key: string, value: number): Promise<string> {
  const file = join(dir, `${key}.json`);
  const r = await hvtune([
    'plan',
    labFile(lab(), 'site.yml', playbook(key, value)),
    '-i',
    lab().inventoryPath,
    '--known-hosts',
    lab().knownHostsPath,
    '-o',
    file,
  ]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return file;
}

/** applySavedPlan as `hvtune apply` runs it, with a connector and lock the test may wrap. */
async function applyPlan(
  planFile: string,
  opts: { connect?: (c: HostConnector) => HostConnector; lock?: 'hvtune' | (() => Promise<void>) } = {},
): Promise<ApplyResult> {
  const plan = readPlan(planFile);
  const inventory = loadInventory(plan.inputs.inventory.path);
  const connect = hostConnector(inventory, { knownHosts: lab().knownHostsPath, timeout: 10 });
  const runId = newRunId();
  return applySavedPlan(plan, {
    planFile,
    inventory,
    modules: await loadModules(),
    connect: opts.connect ? opts.connect(connect) : connect,
    forks: 4,
    runId,
    lock: opts.lock === 'hvtune' ? hostLock(runId) : opts.lock,
  });
}

/** A connector whose host calls `after` once its first read (the staleness check's) is done. */
const afterFirstRead =
  (after: () => void) =>
  (connect: HostConnector): HostConnector =>
  async (inv, facts) => {
    const host = await connect(inv, facts);
    const read = host.read.bind(host);
    host.read = async (requests) => {
      const got = await read(requests);
      after();
      return got;
    };
    return host;
  };

const lines = (text: string | null) => (text ?? '').split('\n').filter((l) => l.startsWith('net.'));

describe('two writers of one sysctl.d file', () => {
  it('plan both, apply both: the second is refused, planned again it adds its key', async () => {
    const original = { [FIN]: await live(FIN), [PROBES]: await live(PROBES) };
    const dir = mkdtempSync(join(lab().dir, 'stale-'));
    try {
      const a = await planOf(dir, FIN, 33);
      const b = await planOf(dir, PROBES, 7);
      const conn = ['--known-hosts', lab().knownHostsPath, '--records', join(dir, 'runs')];
      const first = await hvtune(['apply', a, ...conn]);
      expect(first.code, first.stdout + first.stderr).toBe(0);
      const second = await hvtune(['apply', b, ...conn]);
      expect(second.code).toBe(1);
      expect(second.stdout).toContain(`${FILE}: the file changed since the plan`);
      expect(lines(await lab().readFile(lab().hosts[0].name, FILE))).toEqual([`${FIN} = 33`]);
      expect(await live(PROBES)).toBe(original[PROBES]);
      const again = await hvtune(['apply', await planOf(dir, PROBES, 7), ...conn]);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect(lines(await lab().readFile(lab().hosts[0].name, FILE))).toEqual([`${FIN} = 33`, `${PROBES} = 7`]);
      expect(await live(PROBES)).toBe('7');
    } finally {
      await reset(original);
    }
  });

  it('without hvtune locks, a run that read before the other wrote fails at its write; the file keeps the other key', async () => {
    const original = { [FIN]: await live(FIN), [PROBES]: await live(PROBES) };
    const dir = mkdtempSync(join(lab().dir, 'stale-'));
    try {
      const a = await planOf(dir, FIN, 34);
      const b = await planOf(dir, PROBES, 8);
      // B reads (and finds the host as planned); A runs to its end; then B writes.
      let aRun: Promise<ApplyResult> | undefined;
      const bRun = applyPlan(b, {
        connect: afterFirstRead(() => void (aRun ??= applyPlan(a))),
        lock: async () => {
          while (!aRun) await sleep(10);
          await aRun;
        },
      });
      const [resultB, resultA] = [await bRun, await aRun!];
      const host = lab().hosts[0].name;
      expect(resultA.hosts[host]).toMatchObject({ status: 'applied' });
      expect(resultB.code).toBe(1);
      expect(resultB.hosts[host].status).toBe('failed');
      expect(resultB.hosts[host].error).toContain(`${FILE} ${STALE}`);
      expect(resultB.record.hosts[host].tasks[0]).toMatchObject({ result: 'failed', error: expect.stringContaining(STALE) });
      // A's key kept, B's neither persisted nor set live
      expect(lines(await lab().readFile(host, FILE))).toEqual([`${FIN} = 34`]);
      expect(await live(FIN)).toBe('34');
      expect(await live(PROBES)).toBe(original[PROBES]);
      const left = await lab().exec(host, ['sh', '-c', 'ls -A /etc/sysctl.d | grep hvtune-tmp || true']);
      expect(left.stdout).toBe('');
    } finally {
      await reset(original);
    }
  });

  it('with hvtune locks, two applies at once: one run fails, the other key is in the file', async () => {
    const original = { [FIN]: await live(FIN), [PROBES]: await live(PROBES) };
    const dir = mkdtempSync(join(lab().dir, 'stale-'));
    try {
      const a = await planOf(dir, FIN, 35);
      const b = await planOf(dir, PROBES, 9);
      const [ra, rb] = await Promise.all([applyPlan(a, { lock: 'hvtune' }), applyPlan(b, { lock: 'hvtune' })]);
      const host = lab().hosts[0].name;
      const codes = [ra.code, rb.code].sort();
      expect(codes).toEqual([0, 1]);
      const [won, lost] = ra.code === 0 ? [ra, rb] : [rb, ra];
      expect(lost.hosts[host].error ?? '').toMatch(/locked by run|changed since the plan|changed on the host since it was read/);
      const wonKey = won === ra ? `${FIN} = 35` : `${PROBES} = 9`;
      expect(lines(await lab().readFile(host, FILE))).toEqual([wonKey]);
    } finally {
      await reset(original);
    }
  });

  it('a file another tool changed after the run read it is left as that tool wrote it', async () => {
    const original = { [FIN]: await live(FIN), [PROBES]: await live(PROBES) };
    const dir = mkdtempSync(join(lab().dir, 'stale-'));
    const host = lab().hosts[0].name;
    const theirs = `# written by hand\n${PROBES} = 6\n`;
    try {
      const a = await planOf(dir, FIN, 36);
      // between the read and the write (the lock hook is awaited after the read)
      let read = false;
      const result = await applyPlan(a, {
        connect: afterFirstRead(() => void (read = true)),
        lock: async () => {
          while (!read) await sleep(10);
          await lab().writeFile(host, FILE, theirs);
        },
      });
      expect(result.code).toBe(1);
      expect(result.hosts[host].error).toContain(`${FILE} ${STALE}`);
      expect(await lab().readFile(host, FILE)).toBe(theirs);
      expect(await live(FIN)).toBe(original[FIN]);
      // planned again from what is there now, both keys end in the file
      const again = await applyPlan(await planOf(dir, FIN, 36));
      expect(again.code, JSON.stringify(again.hosts)).toBe(0);
      expect(lines(await lab().readFile(host, FILE))).toEqual([`${PROBES} = 6`, `${FIN} = 36`]);
    } finally {
      await reset(original);
    }
  });
});
