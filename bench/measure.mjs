// Run one controller command as a child process and measure it the same way for every tool:
// wall time, user+sys CPU of the process tree (GNU time counts every waited-for descendant),
// the largest single process's max RSS (GNU time %M) and the peak PSS of the whole tree, sampled
// from /proc (Ansible's forks are separate processes, so %M alone would flatter it).

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const SAMPLE_MS = 100;

/** Children being measured: an interrupted benchmark ends their whole trees (Ansible's forks too). */
const active = new Set();

function descendants(pid) {
  const all = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    all.push(p);
    stack.push(...childrenOf(p));
  }
  return all;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const child of active) {
      for (const pid of descendants(child.pid).reverse()) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // exited meanwhile
        }
      }
    }
    process.exitCode = 130;
  });
}

function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function pssKb(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // exited between listing and reading
  }
}

/** Sum of PSS over `root` and all its descendants (threads' children included). */
function treePssKb(root) {
  let total = 0;
  const stack = [root];
  const seen = new Set();
  while (stack.length) {
    const pid = stack.pop();
    if (seen.has(pid)) continue;
    seen.add(pid);
    total += pssKb(pid);
    stack.push(...childrenOf(pid));
  }
  return total;
}

/**
 * Run argv under /usr/bin/time. Output goes to files in `dir` (a 200-host JSON report is large);
 * returns the measurements and the captured stdout/stderr.
 */
export async function timed(argv, { dir, label, env = process.env, cwd = process.cwd(), hostPids = [] }) {
  const hostCpuBefore = hostsCpu(hostPids);
  const timeFile = join(dir, `${label}.time`);
  const outFile = join(dir, `${label}.out`);
  const errFile = join(dir, `${label}.err`);
  const out = openSync(outFile, 'w');
  const err = openSync(errFile, 'w');
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, ...argv], {
    stdio: ['ignore', out, err],
    env,
    cwd,
  });
  closeSync(out);
  closeSync(err);
  active.add(child);
  let peakPssKb = 0;
  const sampler = setInterval(() => {
    peakPssKb = Math.max(peakPssKb, treePssKb(child.pid));
  }, SAMPLE_MS);
  const code = await new Promise((resolve) => child.once('exit', (c, signal) => resolve(c ?? signal)));
  clearInterval(sampler);
  active.delete(child);
  const wallOuter = (performance.now() - t0) / 1000;
  const hostCpu = hostsCpu(hostPids) - hostCpuBefore;
  const [wall, user, sys, maxRssKb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  rmSync(timeFile, { force: true });
  return {
    code,
    wall: Number.isFinite(wall) ? wall : wallOuter,
    cpu: user + sys,
    user,
    sys,
    maxRssMb: maxRssKb / 1024,
    peakPssMb: peakPssKb / 1024,
    hostCpu,
    stdout: readFileSync(outFile, 'utf8'),
    stderr: readFileSync(errFile, 'utf8'),
    outFile,
    errFile,
  };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime+stime+cutime+cstime of one process, in ticks; 0 once it is gone. */
function processTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

/**
 * CPU seconds used inside the lab hosts so far: each host's init (its sshd) and every process
 * still running under it (Ansible's ControlPersist sessions stay open, so they are not reaped yet).
 * A process that ends moves its time into its parent's cutime, so differences stay exact. This is
 * work the tools cause on the same cores as the controller.
 */
export function hostsCpu(pids) {
  let ticks = 0;
  const stack = [...pids];
  while (stack.length) {
    const pid = stack.pop();
    ticks += processTicks(pid);
    stack.push(...childrenOf(pid));
  }
  return ticks / CLOCK_TICKS;
}

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Load averages (1, 5, 15 min) of the machine right now. */
export function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}
