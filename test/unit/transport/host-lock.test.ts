// The host lock's script run by this machine's /bin/sh (dash on Debian) on a lock file in a temp
// dir, and its output parsed: the protocol without a network. The lab (test/lab/cli/lock.test.ts)
// runs it over ssh through real runs.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LockHolder, type LockOutcome, lockFailure, lockScript, parseLockOutput } from '../../../src/host-lock.js';

let dir: string;
let path: string;
const marker = 'hvtTESTMARKER1234';
const running: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hvtune-lock-'));
  path = join(dir, 'hvtune.lock');
});
afterEach(async () => {
  await Promise.all(running.splice(0).map(endHolder));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const holder = (run: string, extra: Partial<LockHolder> = {}): LockHolder => ({
  run,
  controller: 'ctl01',
  user: 'alice',
  since: '2026-11-30T12:00:00.000Z',
  ...extra,
});

/** Run the script to its end (a lock that was busy, or not takeable). */
function runScript(script: string, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
    child.stdin.end();
  });
}

/** Start the script and wait until it holds the lock; its stdin stays open as an ssh channel's does. */
function takeLock(h: LockHolder): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', lockScript(path, marker, h)], { stdio: ['pipe', 'pipe', 'inherit'] });
    running.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (parseLockOutput(out, marker)?.state === 'held') resolve(child);
    });
    child.on('close', () => reject(new Error(`the lock script ended without holding the lock: ${out}`)));
  });
}

/** The end of stdin ends the holder (as closing the channel does), and with it the lock. */
function endHolder(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('close', () => resolve());
    child.stdin!.end();
  });
}

async function outcome(h: LockHolder, env?: NodeJS.ProcessEnv): Promise<LockOutcome | null> {
  return parseLockOutput(await runScript(lockScript(path, marker, h), env), marker);
}

describe('the host lock script', () => {
  it('holds the lock while its stdin is open, names its holder to a second run, and frees it at stdin EOF', async () => {
    const first = await takeLock(holder('aaaa1111'));
    const record = readFileSync(`${path}.holder`, 'utf8');
    expect(record).toBe(`run=aaaa1111\ncontroller=ctl01\nuser=alice\nsince=2026-11-30T12:00:00.000Z\npid=${first.pid}\n`);

    const second = await outcome(holder('bbbb2222'));
    expect(second).toEqual({
      state: 'busy',
      holder: { run: 'aaaa1111', controller: 'ctl01', user: 'alice', since: '2026-11-30T12:00:00.000Z', pid: String(first.pid) },
    });
    expect(lockFailure('hv1', path, second!)).toBe(
      'hv1: locked by run aaaa1111 from ctl01, user alice, since 2026-11-30T12:00:00.000Z; nothing was changed on it',
    );
    // the loser left the holder's record as it was
    expect(readFileSync(`${path}.holder`, 'utf8')).toBe(record);

    await endHolder(first);
    const third = await takeLock(holder('cccc3333'));
    expect(readFileSync(`${path}.holder`, 'utf8')).toContain('run=cccc3333\n');
    await endHolder(third);
    // no temp file of the record left behind
    expect(
      readdirSync(dir)
        .filter((f) => f.startsWith('hvtune.lock'))
        .sort(),
    ).toEqual(['hvtune.lock', 'hvtune.lock.holder']);
  });

  it('does not name a previous holder whose process is gone: the lock is held by something else', async () => {
    writeFileSync(`${path}.holder`, 'run=old00000\ncontroller=ctl01\nuser=alice\nsince=2026-01-01T00:00:00.000Z\npid=999999999\n');
    // a lock taken by hand, the way an operator might fence hvtune off a host
    const fence = spawn('flock', [path, 'cat'], { stdio: ['pipe', 'ignore', 'inherit'] });
    running.push(fence);
    const deadline = Date.now() + 5000;
    let seen: LockOutcome | null = null;
    while (Date.now() < deadline && (seen = await outcome(holder('dddd4444')))?.state !== 'busy') await sleep(20);
    expect(seen).toEqual({ state: 'busy', holder: null });
    expect(lockFailure('hv1', path, seen!)).toBe(
      `hv1: ${path} is locked by a process that is not an hvtune run (${path}.holder names no live holder); nothing was changed on it`,
    );
  });

  it('fails clearly without flock rather than run unlocked', async () => {
    const bin = join(dir, 'bin-no-flock');
    rmSync(bin, { recursive: true, force: true });
    mkdirSync(bin);
    for (const tool of ['sh', 'cat', 'sed', 'mv', 'rm', 'sleep']) symlinkSync(`/bin/${tool}`, join(bin, tool));
    const seen = await outcome(holder('eeee5555'), { PATH: bin });
    expect(seen).toEqual({ state: 'no-flock' });
    expect(lockFailure('hv1', path, seen!)).toMatch(/^hv1: cannot take the host lock: flock is not installed \(package util-linux\)/);
  });

  it('fails clearly when the lock file cannot be opened', async () => {
    const seen = parseLockOutput(await runScript(lockScript(join(dir, 'no', 'such', 'dir', 'lock'), marker, holder('ffff6666'))), marker);
    expect(seen).toEqual({ state: 'cannot-open' });
  });

  it('keeps odd controller names and users literal: one line each, nothing run', async () => {
    const odd = holder('abcd0000', { controller: `ctl'$(touch ${dir}/pwned)`, user: 'a\nrun=forged' });
    const h = await takeLock(odd);
    expect(readFileSync(`${path}.holder`, 'utf8')).toContain(`controller=ctl'$(touch ${dir}/pwned)\nuser=a?run=forged\n`);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
    const seen = await outcome(holder('x'));
    expect(seen?.state === 'busy' && seen.holder?.run).toBe('abcd0000');
    await endHolder(h);
  });

  it('finds its outcome among other output (a chatty login shell), and nothing without its marker', () => {
    expect(parseLockOutput(`welcome\n${marker} held\n`, marker)).toEqual({ state: 'held' });
    expect(parseLockOutput(`hvtOTHER held\n`, marker)).toBeNull();
    expect(parseLockOutput(`${marker} flock-failed 64\n`, marker)).toEqual({ state: 'flock-failed', code: '64' });
  });
});
