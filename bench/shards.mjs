#!/usr/bin/env node
// More than one controller core: the same lab run by one hvtune process, and by K processes at
// once, each taking its `--shard i/K` slice, their --json reports merged by `hvtune report merge`
// (what a CI matrix or a Kubernetes Indexed Job does, on one machine). Handshakes and planning are
// CPU-bound; whether a second process helps depends on the cores the hosts leave free.
//
//   npm run build && node bench/shards.mjs [--hosts 200] [--shards 2] [--runs 1]
// Prints a markdown table: scenario, processes, wall, controller CPU, host CPU, largest RSS.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinArgv, quote } from '../dist/src/quote.js';
import { buildBenchLab } from './lab.mjs';
import { timed } from './measure.mjs';
import { hvtuneArgv, snapshotBuild } from './tools.mjs';

const option = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};
const HOSTS = Number(option('hosts', '200'));
const SHARDS = Number(option('shards', '2'));
const RUNS = Number(option('runs', '1'));

const build = snapshotBuild();
const dir = mkdtempSync(join(tmpdir(), 'hvtune-bench-shards-'));
const rows = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    const lab = await buildBenchLab(HOSTS);
    try {
      const hostPids = lab.hosts.map((h) => h.pid);
      // converge first: the scenarios below are check mode and the idempotent re-run
      await timed(hvtuneArgv(lab, { check: false }), { dir, label: 'cold', hostPids });
      for (const scenario of ['check', 'idempotent']) {
        const argv = hvtuneArgv(lab, { check: scenario === 'check' });
        const one = await timed(argv, { dir, label: `${scenario}-1`, hostPids });
        // K processes at once, each its slice, then one merge of their reports
        const parts = Array.from({ length: SHARDS }, (_, i) => join(dir, `${scenario}-part${i + 1}.json`));
        const script = [
          ...parts.map((part, i) => `${joinArgv([...argv, '--shard', `${i + 1}/${SHARDS}`])} > ${quote(part)} &`),
          'wait',
          joinArgv([...argv.slice(0, argv.findIndex((a) => a.endsWith('bin/hvtune.js')) + 1), 'report', 'merge', '--json', ...parts]),
        ].join('\n');
        const scriptFile = join(dir, `${scenario}.sh`);
        writeFileSync(scriptFile, `${script}\n`);
        const many = await timed(['sh', scriptFile], { dir, label: `${scenario}-${SHARDS}`, hostPids });
        for (const [processes, m] of [
          [1, one],
          [SHARDS, many],
        ]) {
          const report = JSON.parse(m.stdout);
          const hosts = Object.keys(report.recap).length;
          rows.push({
            scenario,
            processes,
            run,
            wall: m.wall,
            cpu: m.cpu,
            hostCpu: m.hostCpu,
            rss: m.maxRssMb,
            hosts,
            changes: report.changes.length,
          });
        }
      }
    } finally {
      await lab.destroy();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  rmSync(build.dir, { recursive: true, force: true });
}

console.log(`${HOSTS} hosts, build ${build.commit}${build.dirty ? '+dirty' : ''}, ${new Date().toISOString()}\n`);
console.log('| scenario | processes | wall s | controller CPU s | host CPU s | largest RSS MB | hosts in the merged recap | changes |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.scenario} | ${r.processes} | ${r.wall.toFixed(2)} | ${r.cpu.toFixed(2)} | ${r.hostCpu.toFixed(2)} | ${r.rss.toFixed(0)} | ${r.hosts} | ${r.changes} |`,
  );
}
