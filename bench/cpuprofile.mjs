#!/usr/bin/env node
// Summary of a V8 .cpuprofile (node --cpu-prof) or .heapprofile (node --heap-prof): self time, or
// bytes still allocated when the profile was written, per area (npm package or project file) and
// per function, as markdown tables.
//
//   node bench/cpuprofile.mjs FILE.cpuprofile|FILE.heapprofile [TOP]

import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');

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
  return path.startsWith(REPO) ? relative(REPO, path) : path;
}

/** Group heavy dependencies by package, the project's files by file. */
function area(url) {
  const file = shortFile(url);
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  return m ? `npm:${m[1]}` : file.startsWith('node:') ? 'node core' : file;
}

function table(title, rows, total, top, unit = 'ms') {
  const lines = [`### ${title}`, '', `| self ${unit} | % | where |`, '|---:|---:|---|'];
  for (const [name, value] of rows.slice(0, top))
    lines.push(`| ${value.toFixed(unit === 'ms' ? 0 : 2)} | ${((100 * value) / total).toFixed(1)} | ${name} |`);
  return lines.join('\n');
}

function sum(entries, keyOf) {
  const m = new Map();
  for (const e of entries) m.set(keyOf(e), (m.get(keyOf(e)) ?? 0) + e.self);
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

/** V8's pseudo-frames ((idle), (garbage collector), (program)) stay themselves. */
function areaOf(node) {
  const name = node.frame.functionName;
  return name.startsWith('(') && !node.frame.url ? name : area(node.frame.url);
}

export function summarise(profile, top = 25) {
  const nodes = selfTimes(profile);
  const total = nodes.reduce((a, n) => a + n.self, 0);
  const fn = (n) => `${n.frame.functionName || '(anonymous)'} — ${shortFile(n.frame.url)}:${n.frame.lineNumber + 1}`;
  return [
    `Total sampled: ${total.toFixed(0)} ms (the main thread; "(idle)" is waiting for the network or the hosts).`,
    '',
    table('Self time by area (package or project file)', sum(nodes, areaOf), total, top),
    '',
    table('Self time by function', sum(nodes, fn), total, top),
  ].join('\n');
}

/** Nodes of a sampling heap profile, flattened; `self` is in MB. */
function heapNodes(profile) {
  const nodes = [];
  const stack = [profile.head];
  while (stack.length) {
    const n = stack.pop();
    nodes.push({ frame: n.callFrame, self: n.selfSize / 1048576 });
    stack.push(...n.children);
  }
  return nodes;
}

export function summariseHeap(profile, top = 25) {
  const nodes = heapNodes(profile);
  const total = nodes.reduce((a, n) => a + n.self, 0);
  const fn = (n) => `${n.frame.functionName || '(anonymous)'} — ${shortFile(n.frame.url)}:${n.frame.lineNumber + 1}`;
  return [
    `Sampled heap still allocated when the profile was written: ${total.toFixed(1)} MB.`,
    '',
    table('Allocated by area (package or project file)', sum(nodes, areaOf), total, top, 'MB'),
    '',
    table('Allocated by function', sum(nodes, fn), total, top, 'MB'),
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const [file, top] = process.argv.slice(2);
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  process.stdout.write((profile.head ? summariseHeap : summarise)(profile, Number(top ?? 25)) + '\n');
}
