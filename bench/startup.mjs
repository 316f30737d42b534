// Start-up cost of the CLI: median wall time and CPU time (user + sys, GNU time) of
// `hvtune validate …` and `hvtune modules` over several runs. These are the commands that do
// everything a play does before it connects (load modules, compile schemas, parse YAML), so their
// CPU is the controller's fixed cost per run. Needs a built tree (npm run build).
//
//   node bench/startup.mjs                          # this checkout, 10 runs
//   node bench/startup.mjs --runs 20 --root /tmp/old --root .   # two builds, runs interleaved
//
// On a busy machine wall time mostly measures the queue; CPU time is the number to compare.
// Runs of several roots alternate so that load changes hit every root alike.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    root: { type: 'string', multiple: true },
  },
});
const runs = Math.max(1, Number(values.runs) || 10);
const roots = (values.root?.length ? values.root : [new URL('..', import.meta.url).pathname]).map((r) => resolve(r));

const COMMANDS = {
  validate: ['validate', 'playbooks/tcp-tuning.yml', '-i', 'inventory/example.yml'],
  modules: ['modules'],
};

const scratch = mkdtempSync(join(tmpdir(), 'hvtune-startup-'));
const timeFile = join(scratch, 'time');

/** One run under GNU time: { wall, cpu } in milliseconds. */
function measure(root, args) {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %U %S', '-o', timeFile, process.execPath, 'bin/hvtune.js', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  if (result.status !== 0) {
    throw new Error(`${root}: hvtune ${args.join(' ')} exited ${result.status}\n${result.stdout}${result.stderr}`);
  }
  const [wall, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(/\s+/).map(Number);
  return { wall: wall * 1000, cpu: (user + sys) * 1000 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const samples = new Map(); // `${root}\0${command}` → [{ wall, cpu }]
const loadBefore = loadavg();
try {
  // warm the file cache once per root so the first timed run is not an outlier
  for (const root of roots) for (const args of Object.values(COMMANDS)) measure(root, args);
  for (let i = 0; i < runs; i++) {
    for (const root of roots) {
      for (const [name, args] of Object.entries(COMMANDS)) {
        const key = `${root}\0${name}`;
        samples.set(key, [...(samples.get(key) ?? []), measure(root, args)]);
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const loadAfter = loadavg();

const fmt = (l) => l.map((x) => x.toFixed(2)).join(' ');
console.log(`node ${process.version}, ${runs} runs each, load average before ${fmt(loadBefore)}, after ${fmt(loadAfter)}`);
console.log('');
console.log('| build | command | median wall ms | median CPU ms | min CPU ms |');
console.log('|---|---|---:|---:|---:|');
for (const [key, list] of samples) {
  const [root, name] = key.split('\0');
  const cpu = list.map((s) => s.cpu);
  console.log(
    `| ${root} | ${name} | ${median(list.map((s) => s.wall)).toFixed(0)} | ${median(cpu).toFixed(0)} | ${Math.min(...cpu).toFixed(0)} |`,
  );
}
