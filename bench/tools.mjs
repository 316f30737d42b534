// How each tool is run and what its output says: hvtune (the built CLI, --json), Ansible
// (ansible-playbook, the default callback's PLAY RECAP) and the SSH floor.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ansibleEnv, ansibleHome } from './lab.mjs';
import { timed } from './measure.mjs';

export const REPO = resolve(import.meta.dirname, '..');
export const CONNECT_TIMEOUT_S = 30;
const HVTUNE_PLAYBOOK = join(REPO, 'bench/playbooks/hvtune.yml');
const ANSIBLE_PLAYBOOK = join(REPO, 'bench/playbooks/ansible.yml');

let hvtuneRoot = REPO;

/**
 * Run hvtune from a private copy of the built tree (dist/, bin/, package.json, node_modules linked):
 * dist/ is shared with people rebuilding while the benchmark runs, and every sample must measure
 * the same build. Returns the commit and whether src/ or modules/ had uncommitted changes.
 */
export function snapshotBuild() {
  const dir = mkdtempSync(join(tmpdir(), 'hvtune-bench-build-'));
  for (const part of ['dist', 'bin', 'package.json']) cpSync(join(REPO, part), join(dir, part), { recursive: true });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  hvtuneRoot = dir;
  const git = (...args) => execFileSync('git', ['-C', REPO, ...args], { encoding: 'utf8' }).trim();
  return { dir, commit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--', 'src', 'modules') !== '' };
}

/** The node flags of bin/hvtune.js's `#!` line: hvtune is measured as the installed command runs. */
function shebangFlags() {
  const first = readFileSync(join(hvtuneRoot, 'bin/hvtune.js'), 'utf8').split('\n')[0];
  return first
    .replace(/^#!\S*env -S node\s*|^#!.*$/, '')
    .split(/\s+/)
    .filter(Boolean);
}

/** argv of one hvtune run; `nodeFlags` lets the profiler add --cpu-prof. */
export function hvtuneArgv(lab, { check, nodeFlags = [] }) {
  return [
    process.execPath,
    ...shebangFlags(),
    ...nodeFlags,
    join(hvtuneRoot, 'bin/hvtune.js'),
    'play',
    HVTUNE_PLAYBOOK,
    '-i',
    lab.inventoryPath,
    '--known-hosts',
    lab.knownHostsPath,
    '--forks',
    String(lab.hosts.length),
    '--records',
    join(lab.dir, 'bench', 'records'),
    // 200 handshakes at once on 2 busy cores take more than the default 10 s; the floor waits as long.
    '--timeout',
    String(CONNECT_TIMEOUT_S),
    '--json',
    ...(check ? ['--check'] : []),
  ];
}

/** changed = changes reported over all hosts; roundTrips = the largest per-host count. */
function hvtuneOutcome(m) {
  let report;
  try {
    report = JSON.parse(m.stdout);
  } catch {
    return { changed: NaN, failed: NaN, roundTrips: NaN, error: `no JSON report (exit ${m.code}): ${m.stderr.slice(0, 2000)}` };
  }
  const recaps = Object.values(report.recap);
  const failed = recaps.filter((r) => r.failed > 0 || r.unreachable).length;
  const trips = Object.values(report.roundTrips ?? {});
  return {
    changed: report.changes.length,
    failed,
    roundTrips: trips.length ? Math.max(...trips) : NaN,
    roundTripsMin: trips.length ? Math.min(...trips) : NaN,
    error: failed ? JSON.stringify(report.failures.slice(0, 3)) : undefined,
  };
}

export async function runHvtune(lab, scenario, dir) {
  const m = await timed(hvtuneArgv(lab, { check: scenario === 'check' }), {
    dir,
    label: `hvtune-${scenario}`,
    hostPids: lab.hosts.map((h) => h.pid),
  });
  return { ...m, ...hvtuneOutcome(m) };
}

/** Sum of changed=, and the number of hosts with failures, from the PLAY RECAP. */
function ansibleOutcome(m) {
  let changed = 0;
  let failed = 0;
  let hosts = 0;
  for (const line of m.stdout.split('\n')) {
    const r = /^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(line);
    if (!r) continue;
    hosts++;
    changed += Number(r[3]);
    if (Number(r[4]) > 0 || Number(r[5]) > 0) failed++;
  }
  const error =
    hosts === 0 || failed
      ? `exit ${m.code}: ${(m.stdout.match(/fatal:.*\n.*/g) ?? []).slice(0, 3).join(' | ') || m.stderr.slice(0, 2000)}`
      : undefined;
  return { changed, failed, roundTrips: NaN, error };
}

export async function runAnsible(lab, scenario, dir) {
  const argv = [
    'ansible-playbook',
    '-i',
    join(lab.dir, 'bench', 'inventory.ini'),
    ANSIBLE_PLAYBOOK,
    ...(scenario === 'check' ? ['--check'] : []),
  ];
  const m = await timed(argv, {
    dir,
    label: `ansible-${scenario}`,
    env: ansibleEnv(lab, lab.hosts.length),
    hostPids: lab.hosts.map((h) => h.pid),
  });
  return { ...m, ...ansibleOutcome(m) };
}

export async function runFloor(lab, dir) {
  const argv = [
    process.execPath,
    join(REPO, 'bench/floor.mjs'),
    join(lab.dir, 'bench', 'hosts.json'),
    lab.keyPath,
    String(lab.hosts.length),
    String(CONNECT_TIMEOUT_S),
  ];
  const m = await timed(argv, { dir, label: 'floor', hostPids: lab.hosts.map((h) => h.pid) });
  let outcome;
  try {
    const r = JSON.parse(m.stdout);
    outcome = { failed: r.failed, error: r.failed ? r.errors.slice(0, 3).join('; ') : undefined };
  } catch {
    outcome = { failed: NaN, error: `floor printed no JSON (exit ${m.code}): ${m.stderr.slice(0, 500)}` };
  }
  return { ...m, changed: 0, roundTrips: 1, ...outcome };
}

/**
 * End the ssh ControlPersist masters Ansible left for this lab (they would idle out after 60 s):
 * only processes whose title names this lab's own control directory, by PID.
 */
export function endAnsibleMasters(lab) {
  const home = ansibleHome(lab);
  const marker = `${home}/cp/`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.startsWith('ssh: ') && cmdline.includes(marker)) {
      try {
        process.kill(Number(entry), 'SIGTERM');
      } catch {
        // exited meanwhile
      }
    }
  }
  rmSync(home, { recursive: true, force: true });
}
