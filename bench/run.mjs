#!/usr/bin/env node
// The benchmark (bench/README.md): hvtune against Ansible and the SSH floor on N tier-1 lab hosts.
//
//   npm run build && node bench/run.mjs [--hosts 1,10,50,200] [--runs 3] [--tool hvtune,ansible,floor]
//                                       [--ansible-max-hosts 50] [--ansible-runs R] [--out bench/results.md] [--merge]
//
// Each run of each tool gets a fresh lab: check mode on the fresh hosts, cold apply, end-state
// check, idempotent re-run. The floor runs on hvtune's lab. Medians over the runs go to results.md.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBenchLab, checkEndState } from './lab.mjs';
import { loadAverage } from './measure.mjs';
import { writeResults } from './report.mjs';
import { endAnsibleMasters, REPO, runAnsible, runFloor, runHvtune, snapshotBuild } from './tools.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const HOSTS = option('hosts', '1,10,50,200').split(',').map(Number);
const RUNS = Number(option('runs', '3'));
const TOOLS = option('tool', 'hvtune,ansible,floor').split(',');
const ANSIBLE_MAX_HOSTS = Number(option('ansible-max-hosts', '50'));
// Ansible is the slow part of the matrix on a shared 2-core machine: its runs can be fewer.
const ANSIBLE_RUNS = Number(option('ansible-runs', String(RUNS)));
const OUT = option('out', join(REPO, 'bench/results.md'));
const SCENARIOS = ['check', 'cold', 'idempotent'];
// --merge: keep the samples of other host counts from the existing results (re-run one N only).
const MERGE = process.argv.includes('--merge');

/** What a correct run of each scenario reports: check and cold change things, the re-run nothing. */
function expectationProblem(scenario, r) {
  if (r.error) return r.error;
  if (r.failed) return `${r.failed} hosts failed`;
  if (scenario === 'idempotent' && r.changed !== 0) return `idempotent re-run reported ${r.changed} changes`;
  if (scenario !== 'idempotent' && !(r.changed > 0)) return `${scenario} reported no changes`;
  return undefined;
}

function log(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const previous =
  MERGE && existsSync(OUT.replace(/\.md$/, '.json')) ? JSON.parse(readFileSync(OUT.replace(/\.md$/, '.json'), 'utf8')) : null;
// { hosts, run, tool, scenario, wall, cpu, hostCpu, maxRssMb, peakPssMb, roundTrips, load1, problem }
// A re-run replaces the samples of the tools and host counts it measures, nothing else.
const remeasured = (hosts, tool) => HOSTS.includes(hosts) && TOOLS.includes(tool);
const samples = previous ? previous.samples.filter((s) => !remeasured(s.hosts, s.tool)) : [];
const notes = previous ? previous.notes.filter((n) => !HOSTS.some((h) => TOOLS.some((t) => n.includes(t) && n.includes(`N=${h} `)))) : [];
const build = snapshotBuild();
const hostCounts = [...new Set([...samples.map((s) => s.hosts), ...HOSTS])].sort((a, b) => a - b);
const references = new Map(); // hosts → end state of the first cold apply, for cross-tool comparison
const workDir = mkdtempSync(join(tmpdir(), 'hvtune-bench-'));

function record(hosts, run, tool, scenario, r, load1) {
  const problem = tool === 'floor' ? r.error : expectationProblem(scenario, r);
  if (problem) log(`PROBLEM ${tool} ${scenario} N=${hosts}: ${problem}`);
  samples.push({
    hosts,
    run,
    tool,
    scenario,
    wall: r.wall,
    cpu: r.cpu,
    hostCpu: r.hostCpu,
    maxRssMb: r.maxRssMb,
    peakPssMb: r.peakPssMb,
    roundTrips: r.roundTrips,
    changed: r.changed,
    load1,
    problem,
    build: tool === 'hvtune' ? `${build.commit}${build.dirty ? '+dirty' : ''}` : undefined,
  });
  log(
    `${tool.padEnd(7)} ${scenario.padEnd(10)} N=${hosts} run ${run}: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s cpu, ${r.hostCpu.toFixed(2)} s host cpu, ` +
      `${r.maxRssMb.toFixed(0)} MB max RSS, ${r.peakPssMb.toFixed(0)} MB tree PSS, changed ${r.changed}` +
      (Number.isFinite(r.roundTrips) ? `, ${r.roundTrips} round trips/host` : ''),
  );
}

async function toolRun(tool, hosts, run) {
  const t0 = performance.now();
  const lab = await buildBenchLab(hosts);
  log(`lab of ${hosts} hosts built in ${((performance.now() - t0) / 1000).toFixed(1)} s (${lab.id})`);
  const dir = mkdtempSync(join(workDir, `${tool}-${hosts}-${run}-`));
  try {
    const runTool = tool === 'hvtune' ? runHvtune : runAnsible;
    for (const scenario of SCENARIOS) {
      const load1 = loadAverage()[0];
      const r = await runTool(lab, scenario, dir);
      record(hosts, run, tool, scenario, r, load1);
      if (scenario === 'cold') {
        const { reference, problems } = await checkEndState(lab, references.get(hosts));
        if (!references.has(hosts)) references.set(hosts, reference);
        if (problems.length) {
          const text = `end state of ${tool} at N=${hosts} run ${run}: ${problems.length} problems, first: ${problems.slice(0, 3).join('; ')}`;
          log(`PROBLEM ${text}`);
          notes.push(text);
        } else if (run === 1) {
          log(`end state of ${tool} at N=${hosts} checked: as desired and the same as the reference`);
        }
      }
    }
    if (tool === 'hvtune' && TOOLS.includes('floor')) {
      const load1 = loadAverage()[0];
      record(hosts, run, 'floor', 'floor', await runFloor(lab, dir), load1);
    }
  } finally {
    if (tool === 'ansible') endAnsibleMasters(lab);
    await lab.destroy();
  }
}

const started = previous ? new Date(previous.started) : new Date();
try {
  for (const hosts of HOSTS) {
    for (let run = 1; run <= RUNS; run++) {
      for (const tool of TOOLS.filter((t) => t !== 'floor')) {
        if (tool === 'ansible' && (hosts > ANSIBLE_MAX_HOSTS || run > ANSIBLE_RUNS)) continue;
        try {
          await toolRun(tool, hosts, run);
        } catch (e) {
          const text = `${tool} at N=${hosts} run ${run} did not complete: ${e.message}`;
          log(`PROBLEM ${text}`);
          notes.push(text);
        }
      }
      if (!TOOLS.includes('hvtune') && TOOLS.includes('floor')) {
        const lab = await buildBenchLab(hosts);
        try {
          record(hosts, run, 'floor', 'floor', await runFloor(lab, workDir), loadAverage()[0]);
        } finally {
          await lab.destroy();
        }
      }
    }
    // Written after every N, so a long matrix leaves its finished part behind.
    writeResults(OUT, { samples, notes, started, ansibleMaxHosts: ANSIBLE_MAX_HOSTS, hostCounts });
    log(`results for N=${hosts} written to ${OUT}`);
  }
} finally {
  // The tools' output is kept when something went wrong, to read what.
  if (notes.length || samples.some((s) => s.problem)) log(`output of every run kept in ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
  rmSync(build.dir, { recursive: true, force: true });
}
