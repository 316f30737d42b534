// What a lab owns on the machine, written down twice: in memory for the synchronous teardown that
// runs on process exit or a signal, and as a marker file under /run/hvtune-lab/labs/ so that
// scripts/lab-clean can remove a lab whose owner process died without cleaning up.

import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { LABS_DIR, releaseSubnet, type Subnet } from './names.js';

export interface HostState {
  name: string;
  netns: string;
  subnet: Subnet;
  /** Per-host working dir (upper, work, merged, logs, shadows). */
  dir: string;
  /** The host's init (sshd) in the root pid namespace; 0 until started. */
  pid: number;
  /** Our direct child (setpriv → nsenter → unshare); its exit means everything inside is dead. */
  wrapper?: ChildProcess;
  exited: Promise<void>;
  /** Network and dirs removed by stopHost; an unreachable route keeps the address failing fast. */
  stopped: boolean;
}

export interface LabState {
  id: string;
  dir: string;
  hosts: HostState[];
  /** Processes started with Lab.spawn, keyed by their nsenter parent. */
  spawned: Set<ChildProcess>;
  destroyed: boolean;
}

/** Name of the file in a lab dir that proves the dir is a lab's (lab-clean checks it before rm -rf). */
export const LAB_DIR_TAG = '.hvtune-lab-id';

/** Field 22 of /proc/PID/stat: guards against PID reuse when lab-clean judges an owner dead. */
export function processStartTime(pid: number | 'self'): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** Write the marker atomically: lab-clean may read it at any moment. */
export function writeMarker(lab: LabState): void {
  const lines = [
    `owner ${process.pid} ${processStartTime('self')}`,
    `parent ${process.ppid}`,
    `run ${process.env.HVTUNE_LAB_RUN ?? '-'}`,
    `dir ${lab.dir}`,
    ...lab.hosts.map((h) => `host ${h.name} ${h.netns} ${h.subnet.veth} ${h.subnet.index} ${h.subnet.cidr} ${h.pid} ${h.stopped ? 1 : 0}`),
  ];
  const path = `${LABS_DIR}/${lab.id}`;
  writeFileSync(`${path}.tmp`, lines.join('\n') + '\n');
  renameSync(`${path}.tmp`, path);
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/**
 * Kill a host's init; the wrapper (unshare) reaps it and exits. The init is killed only while it
 * is still the wrapper's child, and the wrapper is our unreaped child: neither PID can have been
 * reused. `wrapperToo` also kills the wrapper, for when nothing will wait for it (process exit).
 */
export function killHost(host: HostState, opts: { wrapperToo?: boolean } = {}): void {
  const wrapper = host.wrapper;
  if (wrapper?.pid === undefined || wrapper.exitCode !== null || wrapper.signalCode !== null) return;
  try {
    if (host.pid > 0 && parentOf(host.pid) === wrapper.pid) process.kill(host.pid, 'SIGKILL');
    if (opts.wrapperToo) process.kill(wrapper.pid, 'SIGKILL');
  } catch {
    // exited meanwhile
  }
}

/** `ip -batch` lines that remove a host's network; deleting the root end of the veth removes both ends. */
export function networkRemoval(host: HostState): string[] {
  const lines: string[] = [];
  if (existsSync(`/sys/class/net/${host.subnet.veth}`)) lines.push(`link del ${host.subnet.veth}`);
  if (existsSync(`/run/netns/${host.netns}`)) lines.push(`netns del ${host.netns}`);
  if (host.stopped) lines.push(`route del unreachable ${host.subnet.cidr}`);
  return lines;
}

/** Run ip commands in one process, going on past the ones that fail (already gone). */
export function ipBatchSync(lines: string[]): void {
  if (lines.length === 0) return;
  try {
    execFileSync('ip', ['-force', '-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
  } catch {
    // -force reports the failed lines in its exit status; they were already gone
  }
}

/** Everything the lab made, synchronously: safe in an 'exit' handler, safe to repeat. */
export function teardownSync(lab: LabState): void {
  for (const child of lab.spawned) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
  }
  for (const host of lab.hosts) killHost(host, { wrapperToo: true });
  ipBatchSync(lab.hosts.flatMap(networkRemoval));
  for (const host of lab.hosts) releaseSubnet(lab.id, host.subnet.index);
  if (existsSync(`${lab.dir}/${LAB_DIR_TAG}`)) rmSync(lab.dir, { recursive: true, force: true });
  try {
    unlinkSync(`${LABS_DIR}/${lab.id}`);
  } catch {
    // already gone
  }
  lab.destroyed = true;
  liveLabs.delete(lab);
}

const liveLabs = new Set<LabState>();
let handlersInstalled = false;

function teardownAll(): void {
  for (const lab of [...liveLabs]) {
    try {
      teardownSync(lab);
    } catch {
      // keep going: the other labs still need their teardown
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  teardownAll();
  // Re-raise with the default action unless someone else decides what the signal means.
  if (process.listenerCount(signal) === 1) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
}

/** Track a lab for the exit/signal teardown. */
export function registerLab(lab: LabState): void {
  liveLabs.add(lab);
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', teardownAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}
