// How many processes a run starts on a host. A converged host should cost one round trip and a
// handful of processes (the SSH floor is two: the session's sshd and its shell); a change that adds
// a process per task or per file read fails here. Counted by the host's own PID namespace
// (/proc/sys/kernel/ns_last_pid: every fork inside the host takes the next PID), so it counts
// every process sshd and the scripts start, whatever they are. HVTUNE_TRACE_EXEC=1 prints what
// they are (strace on the host's sshd).
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { play } from '../play.js';

const lab = useLab({ hosts: 1 });
const PLAYBOOK = readFileSync(new URL('../../../bench/playbooks/hvtune.yml', import.meta.url), 'utf8');

async function lastPid(): Promise<number> {
  const r = await lab().exec(lab().hosts[0], ['cat', '/proc/sys/kernel/ns_last_pid']);
  return Number(r.stdout.trim());
}

/** Processes the host started while `work` ran (the reading `cat`s excluded). */
async function processesDuring(work: () => Promise<void>): Promise<number> {
  const before = await lastPid();
  let trace: ReturnType<typeof spawn> | undefined;
  const lines: string[] = [];
  if (process.env.HVTUNE_TRACE_EXEC) {
    trace = spawn('strace', ['-f', '-qq', '-e', 'trace=execve', '-p', String(lab().hosts[0].pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    trace.stderr?.on('data', (d) => lines.push(String(d)));
    await new Promise((r) => setTimeout(r, 500));
  }
  await work();
  if (trace) {
    trace.kill('SIGINT');
    await new Promise((r) => trace?.once('exit', r));
    console.log(lines.join(''));
  }
  return (await lastPid()) - before - 1;
}

describe('processes started on a host', () => {
  it('a converged re-run and check mode start a handful, whatever the number of tasks', async () => {
    // what a Debian host has before the cmdline edit (the lineinfile task edits it)
    await lab().writeFile(
      lab().hosts[0],
      '/etc/default/grub',
      'GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n',
    );
    let cold = await play(lab(), PLAYBOOK, { check: true });
    const coldProcesses = await processesDuring(async () => {
      cold = await play(lab(), PLAYBOOK);
    });
    expect(cold.code, cold.stdout).toBe(0);
    expect(cold.report.changes.length).toBeGreaterThan(0);
    const rerun = await processesDuring(async () => {
      const r = await play(lab(), PLAYBOOK);
      expect(r.report.changes).toEqual([]);
    });
    const check = await processesDuring(async () => {
      const r = await play(lab(), PLAYBOOK, { check: true });
      expect(r.report.changes).toEqual([]);
    });
    console.log(`processes per host: cold apply ${coldProcesses}, converged re-run ${rerun}, check ${check}`);
    // check: sshd's two for the connection and its shell session, the subshell the batch runs in
    // and one `stat` for every file task's path (the sysctl module's access test is builtins).
    // The re-run adds the host lock's flock (the lock is held by the session's shell). Six tasks:
    // one process more per task would fail both.
    expect(check).toBeLessThanOrEqual(5);
    expect(rerun).toBeLessThanOrEqual(7);
    // a cold apply writes five files and twelve live values: 57 processes when this was written
    // (195 before writes and sysctl -w were batched and trimmed to builtins, 76 before the session
    // and the writes' attributes by cp --attributes-only and content by one dd, 65 before a write
    // proved its own bytes and mode instead of a read after it)
    expect(coldProcesses).toBeLessThanOrEqual(60);
  });
});
