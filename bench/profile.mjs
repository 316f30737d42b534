#!/usr/bin/env node
// Where hvtune's controller time (or memory) goes: a lab of N hosts, a cold apply first for the
// idempotent scenario, then the profiled run under `node --cpu-prof` (or `--heap-prof` with --heap);
// prints self time (or bytes still allocated at exit) per function and per file as markdown, and
// writes it to bench/profile.md (bench/profile-heap.md).
//
//   npm run build && node bench/profile.mjs [--hosts 50] [--scenario idempotent|check|cold] [--heap] [--top 25]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBenchLab } from './lab.mjs';
import { loadAverage, timed } from './measure.mjs';
import { summarise, summariseHeap } from './cpuprofile.mjs';
import { hvtuneArgv, REPO, runHvtune } from './tools.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const HOSTS = Number(option('hosts', '50'));
const SCENARIO = option('scenario', 'idempotent');
const HEAP = process.argv.includes('--heap');

const dir = mkdtempSync(join(tmpdir(), 'hvtune-profile-'));
const lab = await buildBenchLab(HOSTS);
try {
  if (SCENARIO === 'idempotent') {
    const cold = await runHvtune(lab, 'cold', dir);
    if (cold.error) throw new Error(`cold apply failed: ${cold.error}`);
  }
  const profDir = join(dir, 'prof');
  const load1 = loadAverage()[0];
  const m = await timed(
    hvtuneArgv(lab, {
      check: SCENARIO === 'check',
      nodeFlags: HEAP ? ['--heap-prof', `--heap-prof-dir=${profDir}`] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    }),
    { dir, label: 'profiled' },
  );
  const file = readdirSync(profDir).find((f) => f.endsWith(HEAP ? '.heapprofile' : '.cpuprofile'));
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8'));
  // KEEP_PROFILE=FILE keeps the raw profile, for a look beyond the tables (DevTools, speedscope)
  if (process.env.KEEP_PROFILE) writeFileSync(process.env.KEEP_PROFILE, JSON.stringify(profile));
  const report = JSON.parse(m.stdout);
  const trips = Object.values(report.roundTrips);
  const text = `# ${HEAP ? 'Heap' : 'CPU'} profile of hvtune: ${SCENARIO} run on ${HOSTS} hosts

Written by \`node bench/profile.mjs --hosts ${HOSTS} --scenario ${SCENARIO}${HEAP ? ' --heap' : ''}\` on ${new Date().toISOString()}
(dist/ of commit ${execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()}). The profiled run: ${m.wall.toFixed(2)} s wall,
${m.cpu.toFixed(2)} s CPU (profiler overhead included), ${m.maxRssMb.toFixed(0)} MB max RSS, ${report.changes.length} changes,
${Math.max(...trips)} round trips per host, load average ${load1} before it.

${(HEAP ? summariseHeap : summarise)(profile, Number(option('top', '25')))}
`;
  writeFileSync(join(REPO, HEAP ? 'bench/profile-heap.md' : 'bench/profile.md'), text);
  process.stdout.write(text);
} finally {
  await lab.destroy();
  rmSync(dir, { recursive: true, force: true });
}
