// bench/results.md from the samples of a run: the machine, one table per scenario, the issue's
// targets, and the hand-written analysis below the NOTES marker, which a new run keeps.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { median } from './measure.mjs';

const NOTES_MARKER = '<!-- notes: everything below this line is kept when bench/run.mjs rewrites the file -->';

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trimEnd();
  } catch (e) {
    return `(${cmd} failed: ${e.message.split('\n')[0]})`;
  }
}

function machine(samples) {
  const loads = samples.map((s) => s.load1);
  return [
    `- CPUs (\`nproc\`): ${sh('nproc', [])}`,
    `- Memory (\`free -g\`):`,
    '```',
    sh('free', ['-g']),
    '```',
    `- Kernel (\`uname -r\`): ${sh('uname', ['-r'])}`,
    `- hvtune build measured (git commit when dist/ was copied): ${buildsByHosts(samples) || 'unknown'}`,
    `- Node: ${process.version}`,
    `- Ansible: ${sh('ansible', ['--version']).split('\n')[0]} (Debian package \`ansible\` ${sh('dpkg-query', ['-W', '-f=${Version}', 'ansible'])}, collections ansible.posix and community.general included)`,
    `- Load average (1 min) just before each measured command: min ${Math.min(...loads).toFixed(2)}, ` +
      `median ${median(loads).toFixed(2)}, max ${Math.max(...loads).toFixed(2)} — the machine is shared with other engineers' labs and test runs`,
  ].join('\n');
}

function runCounts(samples) {
  const runs = new Map();
  for (const s of samples) runs.set(`${s.tool} N=${s.hosts}`, Math.max(runs.get(`${s.tool} N=${s.hosts}`) ?? 0, s.run));
  return [...runs].map(([k, n]) => `${k}: ${n}`).join(', ');
}

function buildsByHosts(samples) {
  const builds = new Map();
  for (const s of samples.filter((x) => x.build)) builds.set(s.build, new Set([...(builds.get(s.build) ?? []), s.hosts]));
  return [...builds].map(([b, hosts]) => `${b} (N = ${[...hosts].join(', ')})`).join('; ');
}

function stat(samples, hosts, tool, scenario, field) {
  return median(samples.filter((s) => s.hosts === hosts && s.tool === tool && s.scenario === scenario && !s.problem).map((s) => s[field]));
}

const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '—');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}` : '—');
const speedup = (slow, fast) => (Number.isFinite(slow) && Number.isFinite(fast) && fast > 0 ? `${(slow / fast).toFixed(1)}×` : '—');

function scenarioTable(samples, hostCounts, scenario) {
  const rows = [
    '| N | hvtune wall s | Ansible wall s | floor wall s | hvtune/Ansible | Ansible÷hvtune | hvtune/floor | hvtune CPU s | Ansible CPU s | hvtune host CPU s | Ansible host CPU s | hvtune max RSS MB | Ansible max RSS / tree PSS MB | round trips/host |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const n of hostCounts) {
    const hv = stat(samples, n, 'hvtune', scenario, 'wall');
    const an = stat(samples, n, 'ansible', scenario, 'wall');
    const fl = stat(samples, n, 'floor', 'floor', 'wall');
    rows.push(
      `| ${n} | ${fmt(hv)} | ${fmt(an)} | ${fmt(fl)} | ${ratio(hv, an)} | ${speedup(an, hv)} | ${ratio(hv, fl)} | ` +
        `${fmt(stat(samples, n, 'hvtune', scenario, 'cpu'))} | ${fmt(stat(samples, n, 'ansible', scenario, 'cpu'))} | ` +
        `${fmt(stat(samples, n, 'hvtune', scenario, 'hostCpu'))} | ${fmt(stat(samples, n, 'ansible', scenario, 'hostCpu'))} | ` +
        `${fmt(stat(samples, n, 'hvtune', scenario, 'maxRssMb'), 0)} | ` +
        `${fmt(stat(samples, n, 'ansible', scenario, 'maxRssMb'), 0)} / ${fmt(stat(samples, n, 'ansible', scenario, 'peakPssMb'), 0)} | ` +
        `${fmt(stat(samples, n, 'hvtune', scenario, 'roundTrips'), 0)} |`,
    );
  }
  return rows.join('\n');
}

function floorTable(samples, hostCounts) {
  const rows = ['| N | floor wall s | floor CPU s | floor host CPU s | floor max RSS MB |', '|---:|---:|---:|---:|---:|'];
  for (const n of hostCounts) {
    rows.push(
      `| ${n} | ${fmt(stat(samples, n, 'floor', 'floor', 'wall'))} | ${fmt(stat(samples, n, 'floor', 'floor', 'cpu'))} | ${fmt(stat(samples, n, 'floor', 'floor', 'hostCpu'))} | ${fmt(stat(samples, n, 'floor', 'floor', 'maxRssMb'), 0)} |`,
    );
  }
  return rows.join('\n');
}

function verdict(ok, text) {
  return `- ${ok === undefined ? 'NOT MEASURED' : ok ? 'MET' : 'MISSED'}: ${text}`;
}

function targets(samples) {
  const at = (tool, scenario, field = 'wall') => stat(samples, 50, tool, scenario, field);
  const lines = [];
  for (const [scenario, want] of [
    ['idempotent', 10],
    ['check', 10],
    ['cold', 5],
  ]) {
    const x = at('ansible', scenario) / at('hvtune', scenario);
    lines.push(
      verdict(
        Number.isFinite(x) ? x >= want : undefined,
        `50 hosts, ${scenario}: hvtune ≥ ${want}× faster than Ansible — measured ${fmt(x, 1)}×`,
      ),
    );
  }
  const floor50 = stat(samples, 50, 'floor', 'floor', 'wall');
  for (const [scenario, want, issue] of [
    ['idempotent', 2, 9],
    ['idempotent', 1.5, 19],
    ['check', 1.5, 19],
    ['cold', 3, 19],
  ]) {
    const ratio = at('hvtune', scenario) / floor50;
    lines.push(
      verdict(
        Number.isFinite(ratio) ? ratio <= want : undefined,
        `50 hosts, ${scenario}: hvtune within ${want}× of the SSH floor (issue ${issue}) — measured ${fmt(ratio)}×`,
      ),
    );
  }
  // memory at 200 hosts, every scenario (issue 19); other host counts are in the tables
  const mem = Math.max(...samples.filter((s) => s.tool === 'hvtune' && s.hosts === 200).map((s) => s.maxRssMb));
  lines.push(
    verdict(
      Number.isFinite(mem) ? mem <= 150 : undefined,
      `peak controller memory ≤ 150 MB at 200 hosts, every scenario — measured ${fmt(mem, 0)} MB (the largest of them)`,
    ),
  );
  return lines.join('\n');
}

function problems(samples, notes) {
  const lines = samples.filter((s) => s.problem).map((s) => `- ${s.tool} ${s.scenario} N=${s.hosts} run ${s.run}: ${s.problem}`);
  lines.push(...notes.map((n) => `- ${n}`));
  return lines.length ? lines.join('\n') : '- none: every run reported what it should, and every cold apply reached the checked end state';
}

export function writeResults(path, { samples, notes, started, ansibleMaxHosts, hostCounts }) {
  const kept = existsSync(path) ? readFileSync(path, 'utf8').split(NOTES_MARKER)[1] : undefined;
  const text = `# hvtune benchmark results

Written by \`node bench/run.mjs\` (see bench/README.md) — run started ${started.toISOString()},
hosts ${hostCounts.join(', ')}; runs per tool and host count (the tables give medians over them): ${runCounts(samples)};
Ansible capped at ${ansibleMaxHosts} hosts.

## Machine
${machine(samples)}

## Targets (issues 9 and 19)
${targets(samples)}

## Idempotent re-run (converged hosts, nothing to change)
${scenarioTable(samples, hostCounts, 'idempotent')}

## Check mode (fresh hosts, every setting pending)
${scenarioTable(samples, hostCounts, 'check')}

## Cold apply (fresh hosts)
${scenarioTable(samples, hostCounts, 'cold')}

## SSH floor (one connection and \`true\` per host, all hosts at once)
${floorTable(samples, hostCounts)}

Columns: wall and CPU (user+sys of the controller's process tree, GNU time) are medians over the
runs; "host CPU" is the CPU the run caused inside the lab hosts (sshd, shells, sysctl, python…),
which share the machine's 2 cores with the controller; "hvtune/Ansible" is the time ratio (lower is better for hvtune), "Ansible÷hvtune" the
speed-up; "max RSS" is GNU time's %M (the largest single process); "tree PSS" is the peak of the
summed PSS of Ansible's whole process tree (its forks), sampled every 100 ms; round trips/host is
the largest per-host count in hvtune's JSON report (connection set-up excluded).

## Problems seen during the run
${problems(samples, notes)}

${NOTES_MARKER}
${kept === undefined ? '\n## Analysis\n\n(to be written after a full run)\n' : '\n' + kept.replace(/^\n+/, '')}`;
  writeFileSync(path, text);
  writeFileSync(path.replace(/\.md$/, '.json'), JSON.stringify({ started, samples, notes }, null, 1));
}
