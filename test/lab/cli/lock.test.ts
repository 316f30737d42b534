// Issue 14's host lock, tried as users would meet it: two controllers on the same hosts, a
// controller killed mid-run, check-type commands beside a run, a saved plan on a locked host, a
// rollback (which only plans: its plan changes hosts through apply, under the lock).
// Lab hosts have their own /run (a tmpfs of the host's mount namespace, src/demo/lab/host.ts), so
// /run/hvtune.lock is each host's own, never this machine's.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, hvtune, labFile, play } from '../play.js';

const lab = useLab({ hosts: 3 });
const LOCK = '/run/hvtune.lock';
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const machineLockBefore = existsSync(LOCK);

/** Each host appends `who` to /root/changed-by, slowly enough for a second run to find it locked. */
const slow = (seconds: number, hosts = 'lab') => `
- name: slow change
  hosts: ${hosts}
  tasks:
    - name: mark
      command:
        argv: [sh, -c, "sleep ${seconds}; echo {{who}} >> /root/changed-by"]
`;

const TUNING = `
- name: tuning
  hosts: lab
  tasks:
    - name: fin timeout
      sysctl:
        values: { net.ipv4.tcp_fin_timeout: "{{fin}}" }
`;

const LOCKED = /: locked by run ([0-9a-f]+) from (\S+), user (\S+), since (\S+); nothing was changed on it$/;

/** The id of the run record a `play`/`apply` printed the path of. */
function recordId(stderr: string): string {
  const path = /run record: (\S+)/.exec(stderr)?.[1];
  if (!path) throw new Error(`no run record in:\n${stderr}`);
  return JSON.parse(readFileSync(path, 'utf8')).id;
}

async function lockFree(host: string): Promise<boolean> {
  const r = await lab().exec(host, ['flock', '-n', LOCK, 'true']);
  if (r.code !== 0 && r.code !== 1) throw new Error(`flock on ${host}: ${r.stderr}`);
  return r.code === 0;
}

/** The holder record on a host, as key → value. */
async function holderOn(host: string): Promise<Record<string, string>> {
  const text = (await lab().readFile(host, `${LOCK}.holder`)) ?? '';
  return Object.fromEntries(
    text.split('\n').flatMap((l) => (l.includes('=') ? [[l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]] : [])),
  );
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});
afterAll(() => {
  // the lab's /run took every lock: none landed in this machine's /run
  expect(existsSync(LOCK)).toBe(machineLockBefore);
});

/**
 * A controller in a process of its own (the built CLI), started on `hosts` and returned once it
 * holds all their locks, with the run id the hosts' holder records name.
 */
async function controllerHolding(playbook: string, hosts: string[], args: string[] = []): Promise<{ child: ChildProcess; run: string }> {
  const cli = join(ROOT, 'dist/src/cli.js');
  if (!existsSync(cli)) throw new Error('this test runs the built CLI in a child process: npm run build first');
  for (const h of hosts) await lab().exec(h, ['rm', '-f', `${LOCK}.holder`]);
  const argv = [
    join(ROOT, 'bin/hvtune.js'),
    'play',
    labFile(lab(), 'slow.yml', playbook),
    '-i',
    lab().inventoryPath,
    '--known-hosts',
    lab().knownHostsPath,
    '-e',
    'who=child',
    ...args,
  ];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d));
  child.stderr!.on('data', (d: Buffer) => (output += d));
  const runs = await until(
    'the child controller to hold the locks',
    async () => {
      if (child.exitCode !== null) throw new Error(`the child controller ended (exit ${child.exitCode}):\n${output}`);
      const records = await Promise.all(hosts.map(holderOn));
      return records.every((r) => r.run) ? records.map((r) => r.run) : undefined;
    },
    20_000,
  );
  expect(new Set(runs).size).toBe(1);
  for (const h of hosts) expect(await lockFree(h)).toBe(false);
  return { child, run: runs[0] };
}

/** A path for a command's output, in a fresh directory of the lab's. */
const scratch = (name: string) => join(mkdtempSync(join(lab().dir, 'out-')), name);

/** kill -9 a controller; resolves with the milliseconds until every lock it held is free. */
async function kill9(child: ChildProcess, hosts: string[]): Promise<number> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killed = performance.now();
  child.kill('SIGKILL');
  await exited;
  await until('every lock to be free', async () => ((await Promise.all(hosts.map(lockFree))).every(Boolean) ? true : undefined), 10_000);
  return performance.now() - killed;
}

describe('the host lock', () => {
  it('two concurrent runs on the same hosts: each host is changed by exactly one, the other names the holder', async () => {
    const names = lab().hosts.map((h) => h.name);
    for (const h of names) await lab().exec(h, ['rm', '-f', '/root/changed-by']);
    const [a, b] = await Promise.all([play(lab(), slow(2), { args: ['-e', 'who=A'] }), play(lab(), slow(2), { args: ['-e', 'who=B'] })]);
    const runs = { A: { r: a, id: recordId(a.stderr) }, B: { r: b, id: recordId(b.stderr) } };
    for (const h of names) {
      const changedBy = (['A', 'B'] as const).filter((who) => changesOn(runs[who].r.report, h).length > 0);
      expect(changedBy, `${h} changed by`).toHaveLength(1);
      const [winner] = changedBy;
      const loser = winner === 'A' ? 'B' : 'A';
      // on the host itself: one run's mark, once
      expect(await lab().readFile(h, '/root/changed-by')).toBe(`${winner}\n`);
      const failures = runs[loser].r.report.failures.filter((f) => f.host === h);
      expect(failures).toHaveLength(1);
      const [, run, controller, user, since] = LOCKED.exec(failures[0].message) ?? [];
      expect(failures[0].message.startsWith(`${h}: locked by run`), failures[0].message).toBe(true);
      expect({ run, controller, user }).toEqual({ run: runs[winner].id, controller: hostname(), user: userInfo().username });
      expect(Number.isNaN(Date.parse(since))).toBe(false);
      expect(runs[loser].r.report.recap[h]).toMatchObject({ failed: 1, changed: 0 });
    }
    for (const who of ['A', 'B'] as const) {
      const lost = runs[who].r.report.failures.length > 0;
      expect(runs[who].r.code, runs[who].r.stdout).toBe(lost ? 1 : 0);
    }
    // both runs ended: every lock is free again, at once
    for (const h of names) expect(await lockFree(h)).toBe(true);
  });

  it('check, plan, drift, snapshot and facts take no lock: they run beside a run that holds it', async () => {
    const names = lab().hosts.map((h) => h.name);
    const { child, run } = await controllerHolding(slow(20), names);
    const conn = ['-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath, '-e', 'fin=37'];
    const playbook = labFile(lab(), 'tuning.yml', TUNING);
    const results = {
      check: await hvtune(['play', playbook, ...conn, '--check']),
      plan: await hvtune(['plan', playbook, ...conn, '-o', scratch('plan.json')]),
      drift: await hvtune(['drift', playbook, ...conn]),
      snapshot: await hvtune(['snapshot', playbook, ...conn, '-o', scratch('base')]),
      facts: await hvtune(['facts', '-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath]),
    };
    for (const [command, r] of Object.entries(results)) {
      expect([0, 2], `${command}: ${r.stdout}${r.stderr}`).toContain(r.code);
      expect(r.stdout + r.stderr).not.toMatch(/locked/);
    }
    // the run still holds every lock, undisturbed
    for (const h of names) {
      expect(await lockFree(h)).toBe(false);
      expect((await holderOn(h)).run).toBe(run);
    }
    await kill9(child, names);
  });

  it('a controller killed with SIGKILL mid-run leaves every lock free for the next run', async () => {
    const names = lab().hosts.map((h) => h.name);
    const { child } = await controllerHolding(slow(20), names);
    // sshd sees the connection close (the kernel closes a dead process's socket) and ends the
    // session; the holder's stdin ends with it
    const ms = await kill9(child, names);
    expect(ms).toBeLessThan(5_000);
    const next = await play(lab(), TUNING, { args: ['-e', 'fin=41'] });
    expect(next.code, next.stdout + next.stderr).toBe(0);
    for (const h of names) expect(next.report.recap[h]).toMatchObject({ changed: 1, failed: 0 });
    for (const h of names) expect((await lab().exec(h, ['sysctl', '-n', 'net.ipv4.tcp_fin_timeout'])).stdout.trim()).toBe('41');
  });

  it('apply of a saved plan refuses a locked host, changing nothing on it, and applies the others', async () => {
    const [hv1, hv2, hv3] = lab().hosts.map((h) => h.name);
    const conn = ['-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath];
    const before = (await lab().exec(hv1, ['sysctl', '-n', 'net.ipv4.tcp_fin_timeout'])).stdout.trim();
    const planFile = scratch('plan.json');
    const planned = await hvtune(['plan', labFile(lab(), 'tuning.yml', TUNING), ...conn, '-e', 'fin=43', '-o', planFile]);
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);

    const { child, run } = await controllerHolding(slow(20, hv1), [hv1], ['--limit', hv1]);
    const applied = await hvtune(['apply', planFile, '--known-hosts', lab().knownHostsPath, '--json']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(1);
    const result = JSON.parse(applied.stdout) as { hosts: Record<string, { status: string; error?: string }>; record: string };
    expect(result.hosts[hv1].status).toBe('failed');
    expect(result.hosts[hv1].error).toMatch(LOCKED);
    expect(LOCKED.exec(result.hosts[hv1].error!)![1]).toBe(run);
    expect(result.hosts[hv2].status).toBe('applied');
    expect(result.hosts[hv3].status).toBe('applied');
    expect((await lab().exec(hv1, ['sysctl', '-n', 'net.ipv4.tcp_fin_timeout'])).stdout.trim()).toBe(before);
    expect((await lab().exec(hv2, ['sysctl', '-n', 'net.ipv4.tcp_fin_timeout'])).stdout.trim()).toBe('43');
    // apply's own record id is what its locks named (here on hv2, still in the holder file)
    const applyId = JSON.parse(readFileSync(result.record, 'utf8')).id;
    expect((await holderOn(hv2)).run).toBe(applyId);
    expect(await lockFree(hv2)).toBe(true);
    await kill9(child, [hv1]);
  });

  it('rollback only plans (it runs beside a holder); apply of its plan refuses the locked host, changing nothing there', async () => {
    const names = lab().hosts.map((h) => h.name);
    const [hv1, hv2, hv3] = names;
    const fin = async (h: string) => (await lab().exec(h, ['sysctl', '-n', 'net.ipv4.tcp_fin_timeout'])).stdout.trim();
    const before = Object.fromEntries(await Promise.all(names.map(async (h) => [h, await fin(h)] as const)));
    const changed = await play(lab(), TUNING, { args: ['-e', 'fin=47'] });
    expect(changed.code, changed.stdout + changed.stderr).toBe(0);
    const record = /run record: (\S+)/.exec(changed.stderr)![1];

    const { child, run } = await controllerHolding(slow(20, hv1), [hv1], ['--limit', hv1]);
    const undo = scratch('undo.json');
    const planned = await hvtune(['rollback', record, '-o', undo, '--known-hosts', lab().knownHostsPath]);
    expect(planned.code, planned.stdout + planned.stderr).toBe(2);
    expect(planned.stdout + planned.stderr).not.toMatch(/locked/);
    expect((await holderOn(hv1)).run).toBe(run);

    const applied = await hvtune(['apply', undo, '--known-hosts', lab().knownHostsPath, '--json']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(1);
    const result = JSON.parse(applied.stdout) as { hosts: Record<string, { status: string; error?: string }> };
    expect(result.hosts[hv1].status).toBe('failed');
    expect(LOCKED.exec(result.hosts[hv1].error!)?.[1]).toBe(run);
    expect([result.hosts[hv2].status, result.hosts[hv3].status]).toEqual(['applied', 'applied']);
    // on the hosts: hv1 still as the run left it, the others rolled back
    expect(await fin(hv1)).toBe('47');
    expect([await fin(hv2), await fin(hv3)]).toEqual([before[hv2], before[hv3]]);
    await kill9(child, [hv1]);
  });
});
