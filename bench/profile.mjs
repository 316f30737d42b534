#!/usr/bin/env node
// Where hvtune's controller time goes: a 50-host lab, a cold apply, then the idempotent re-run under
// `node --cpu-prof`; prints self time summed per function and per file (markdown), and writes it
// to bench/profile.md.
//
//   npm run build && node bench/profile.mjs [--hosts 50] [--scenario idempotent|check|cold] [--top 25]

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildBenchLab } from './lab.mjs';
import { loadAverage, timed } from './measure.mjs';
import { hvtuneArgv, REPO, runHvtune } from './tools.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const HOSTS = Number(option('hosts', '50'));
const SCENARIO = option('scenario', 'idempotent');
const TOP = Number(option('top', '25'));

/** Self time per node of a V8 .cpuprofile: samples × their intervals, attributed to the sampled node. */
function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, { frame: n.callFrame, self: 0 }]));
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    // timeDeltas[i] is the time before sample i; the time after it is the next delta.
    node.self += (deltas[i + 1] ?? 0) / 1000;
  }
  return [...byId.values()];
}

function shortFile(url) {
  if (!url) return '(native / V8)';
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(REPO) ? relative(REPO, path) : path.startsWith('node:') ? path : path;
}

/** Group heavy dependencies by package, the project's files by file. */
function area(url) {
  const file = shortFile(url);
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  return m ? `npm:${m[1]}` : file.startsWith('node:') ? 'node core' : file;
}

function table(title, rows, total) {
  const lines = [`### ${title}`, '', '| self ms | % | where |', '|---:|---:|---|'];
  for (const [name, ms] of rows.slice(0, TOP)) lines.push(`| ${ms.toFixed(0)} | ${((100 * ms) / total).toFixed(1)} | ${name} |`);
  return lines.join('\n');
}

function sum(entries, keyOf) {
  const m = new Map();
  for (const e of entries) m.set(keyOf(e), (m.get(keyOf(e)) ?? 0) + e.self);
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

export function summarise(profile) {
  const nodes = selfTimes(profile);
  const total = nodes.reduce((a, n) => a + n.self, 0);
  const fn = (n) => `${n.frame.functionName || '(anonymous)'} — ${shortFile(n.frame.url)}:${n.frame.lineNumber + 1}`;
  return [
    `Total sampled: ${total.toFixed(0)} ms (the main thread; "(idle)" is waiting for the network or the hosts).`,
    '',
    table('Self time by area (package or project file)', sum(nodes, (n) => (n.frame.functionName === '(idle)' ? '(idle)' : n.frame.functionName === '(garbage collector)' ? '(garbage collector)' : area(n.frame.url))), total),
    '',
    table('Self time by function', sum(nodes, fn), total),
  ].join('\n');
}

const dir = mkdtempSync(join(tmpdir(), 'hvtune-profile-'));
const lab = await buildBenchLab(HOSTS);
try {
  if (SCENARIO === 'idempotent') {
    const cold = await runHvtune(lab, 'cold', dir);
    if (cold.error) throw new Error(`cold apply failed: ${cold.error}`);
  }
  const profDir = join(dir, 'prof');
  const load1 = loadAverage()[0];
  const m = await timed(hvtuneArgv(lab, { check: SCENARIO === 'check', nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] }), { dir, label: 'profiled' });
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8'));
  const report = JSON.parse(m.stdout);
  const trips = Object.values(report.roundTrips);
  const text = `# Profile of hvtune: ${SCENARIO} run on ${HOSTS} hosts

Written by \`node bench/profile.mjs --hosts ${HOSTS} --scenario ${SCENARIO}\` on ${new Date().toISOString()}
(git ${readFileSync(join(REPO, '.git/HEAD'), 'utf8').trim()}). The profiled run: ${m.wall.toFixed(2)} s wall,
${m.cpu.toFixed(2)} s CPU (profiler overhead included), ${m.maxRssMb.toFixed(0)} MB max RSS, ${report.changes.length} changes,
${Math.max(...trips)} round trips per host, load average ${load1} before it.

${summarise(profile)}
`;
  writeFileSync(join(REPO, 'bench/profile.md'), text);
  process.stdout.write(text);
} finally {
  await lab.destroy();
  rmSync(dir, { recursive: true, force: true });
}
