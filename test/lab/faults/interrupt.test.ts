// Issue 15, finding 10: an interrupt left no run record, so what was applied before Ctrl-C could
// not be rolled back. The built CLI runs in a child process on two lab hosts, one at a time
// (--forks 1); it is signalled while a write to the first host is in flight (the link throttled
// with tc on the lab's own veth so the transfer takes seconds). The write finishes, nothing new
// starts, the record says which tasks completed, and rollback undoes exactly those.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { useLab } from '../lab.js';
import { hvtune, labFile } from '../play.js';

const lab = useLab({ hosts: 2 });
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SYSCTL = '/etc/sysctl.d/60-interrupt.conf';
const BIG = '/etc/hvtune-interrupt/big.conf';
const FIN = 'net.ipv4.tcp_fin_timeout';
const PROBES = 'net.ipv4.tcp_keepalive_probes';
/** About 800 KB: seconds through a 2 Mbit/s link. */
const BIG_CONTENT = Array.from({ length: 10_000 }, (_, i) => `line ${String(i).padStart(5, '0')} ${'x'.repeat(68)}`).join('\n') + '\n';

const PLAYBOOK = `
- name: tuning
  hosts: lab
  tasks:
    - name: fin timeout
      sysctl: { file: ${SYSCTL}, values: { ${FIN}: 41 } }
    - name: big file
      file:
        path: ${BIG}
        content: |
${BIG_CONTENT.split('\n')
  .filter(Boolean)
  .map((l) => `          ${l}`)
  .join('\n')}
    - name: probes
      sysctl: { file: ${SYSCTL}, values: { ${PROBES}: 8 } }
`;

const children = new Set<ChildProcess>();
const throttled = new Set<string>();
afterEach(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  children.clear();
  for (const dev of throttled) execFileSync('tc', ['qdisc', 'del', 'dev', dev, 'root']);
  throttled.clear();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Slow the traffic to a lab host: tbf on the root-namespace end of its veth (LAB.md, faults on demand). */
function throttle(netns: string): void {
  const peer = /@if(\d+):/.exec(execFileSync('ip', ['-n', netns, '-o', 'link', 'show', 'eth0'], { encoding: 'utf8' }))?.[1];
  const line = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.startsWith(`${peer}: `));
  const dev = line?.split(': ')[1]?.split('@')[0];
  if (!peer || !dev) throw new Error(`cannot find the root end of ${netns}'s veth`);
  execFileSync('tc', ['qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', '2mbit', 'burst', '32kbit', 'latency', '2s']);
  throttled.add(dev);
}

async function live(host: string, key: string): Promise<string> {
  return (await lab().readFile(host, `/proc/sys/${key.replace(/\./g, '/')}`))!.trim();
}

/** What of hvtune's is left on a lab host: processes of its session (scripts, the lock holder) and a write's temp file. */
async function leftOn(host: string): Promise<string[]> {
  // sshd is the host's init: anything else but this ps is a session's
  const ps = (await lab().exec(host, ['ps', '-eo', 'pid=,args='])).stdout.split('\n').map((l) => l.trim());
  const procs = ps.filter((l) => l && !/^1 /.test(l) && !/ ps -eo /.test(l) && !/sshd/.test(l));
  const dir = await lab().exec(host, ['ls', '-A', '/etc/hvtune-interrupt']);
  return [...procs, ...dir.stdout.split('\n').filter((f) => f.includes('hvtune-tmp'))];
}

/** The built CLI's `play` in a child process; resolves once its write to hv1 is in flight. */
async function startPlay(runs: string): Promise<{ child: ChildProcess; output: () => string; exit: Promise<number | null> }> {
  if (!existsSync(join(ROOT, 'dist/src/interrupt.js'))) throw new Error('this test runs the built CLI: npm run build first');
  const argv = [
    join(ROOT, 'bin/hvtune.js'),
    'play',
    labFile(lab(), 'site.yml', PLAYBOOK),
    '-i',
    lab().inventoryPath,
    '--known-hosts',
    lab().knownHostsPath,
    '--records',
    runs,
    '--forks',
    '1',
  ];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d));
  child.stderr!.on('data', (d: Buffer) => (output += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const hv1 = lab().hosts[0].name;
  await until('the write of the big file to be in flight', async () => {
    if (child.exitCode !== null) throw new Error(`hvtune ended early (exit ${child.exitCode}):\n${output}`);
    const r = await lab().exec(hv1, ['ls', '-A', '/etc/hvtune-interrupt']);
    return r.stdout.includes('hvtune-tmp') ? true : undefined;
  });
  return { child, output: () => output, exit };
}

async function cleanUp(original: Record<string, string>): Promise<void> {
  for (const h of lab().hosts) {
    for (const [key, value] of Object.entries(original)) await lab().exec(h.name, ['sysctl', '-q', '-w', `${key}=${value}`]);
    await lab().exec(h.name, ['rm', '-rf', SYSCTL, '/etc/hvtune-interrupt']);
  }
}

describe('an interrupted play', () => {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${sig}: the write in flight finishes, nothing new starts, the record lists what completed, rollback undoes it; exit ${code}`, async () => {
      const [hv1, hv2] = lab().hosts.map((h) => h.name);
      const original = { [FIN]: await live(hv1, FIN), [PROBES]: await live(hv1, PROBES) };
      const runs = mkdtempSync(join(lab().dir, 'runs-'));
      throttle(lab().hosts[0].netns);
      try {
        const started = Date.now();
        const { child, output, exit } = await startPlay(runs);
        child.kill(sig);
        expect(await exit, output()).toBe(code);
        expect(output()).toContain(`${sig}: stopping`);
        expect(Date.now() - started).toBeLessThan(60_000);

        // the host: the step in flight completed whole, the next task never started, hv2 untouched
        expect(await lab().readFile(hv1, BIG)).toBe(BIG_CONTENT);
        expect(await lab().readFile(hv1, SYSCTL)).toContain(`${FIN} = 41`);
        expect(await lab().readFile(hv1, SYSCTL)).not.toContain(PROBES);
        expect(await live(hv1, PROBES)).toBe(original[PROBES]);
        expect(await lab().readFile(hv2, SYSCTL)).toBeNull();
        expect(await lab().readFile(hv2, BIG)).toBeNull();
        // nothing of hvtune's left running there, and the lock is free
        expect(
          await until('hvtune processes to end on hv1', async () => ((await leftOn(hv1)).length === 0 ? true : undefined), 10_000),
        ).toBe(true);
        expect((await lab().exec(hv1, ['flock', '-n', '/run/hvtune.lock', 'true'])).code).toBe(0);

        // the record: interrupted, the completed tasks applied, hv1 not finished (--resume goes on with it)
        const recordPath = /run record: (\S+)/.exec(output())![1];
        const record = JSON.parse(readFileSync(recordPath, 'utf8'));
        expect(record.interrupted).toBe(sig);
        expect(record.hosts[hv1].tasks.map((t: { task: string; result: string }) => [t.task, t.result])).toEqual([
          ['fin timeout', 'applied'],
          ['big file', 'applied'],
        ]);
        expect(record.hosts[hv1].finished).toBeUndefined();
        expect(record.hosts[hv2]).toBeUndefined();
        execFileSync('tc', ['qdisc', 'del', 'dev', [...throttled][0], 'root']);
        throttled.clear();

        // rollback of that record undoes exactly what was done
        const undo = join(runs, 'undo.json');
        const rb = await hvtune(['rollback', recordPath, '--known-hosts', lab().knownHostsPath, '-o', undo]);
        expect(rb.code, rb.stdout + rb.stderr).toBe(2);
        const applied = await hvtune(['apply', undo, '--known-hosts', lab().knownHostsPath, '--records', runs]);
        expect(applied.code, applied.stdout + applied.stderr).toBe(0);
        expect(await lab().readFile(hv1, BIG)).toBeNull();
        expect(await lab().readFile(hv1, SYSCTL)).toBeNull();
        expect(await live(hv1, FIN)).toBe(original[FIN]);
      } finally {
        await cleanUp(original);
      }
    });
  }

  it('a second SIGINT aborts at once: exit 130, the record so far, the file old or new, no temp file left', async () => {
    const hv1 = lab().hosts[0].name;
    const original = { [FIN]: await live(hv1, FIN), [PROBES]: await live(hv1, PROBES) };
    const runs = mkdtempSync(join(lab().dir, 'runs-'));
    throttle(lab().hosts[0].netns);
    try {
      const { child, output, exit } = await startPlay(runs);
      child.kill('SIGINT');
      await until('the first signal to be heard', async () => (output().includes('SIGINT: stopping') ? true : undefined));
      const second = Date.now();
      child.kill('SIGINT');
      expect(await exit, output()).toBe(130);
      expect(Date.now() - second).toBeLessThan(2_000);
      expect(output()).toContain('SIGINT: aborted');
      const record = JSON.parse(readFileSync(/run record: (\S+)/.exec(output())![1], 'utf8'));
      expect(record).toMatchObject({ interrupted: 'SIGINT', inProgress: true });
      expect(record.hosts[hv1].tasks[0]).toMatchObject({ task: 'fin timeout', result: 'applied' });
      // the transfer was cut: the write protocol left the old content (none), never a part
      let left: string[] = [];
      await until('the cut write to clean up', async () => ((left = await leftOn(hv1)).length === 0 ? true : undefined), 15_000).catch(() =>
        expect(left).toEqual([]),
      );
      expect([null, BIG_CONTENT]).toContain(await lab().readFile(hv1, BIG));
      expect((await lab().exec(hv1, ['flock', '-n', '/run/hvtune.lock', 'true'])).code).toBe(0);
    } finally {
      await cleanUp(original);
    }
  });
});
