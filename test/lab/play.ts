// Run the real CLI in-process against a lab, the way a user would, and read its --json report.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../src/cli.js';
import type { RunReport } from '../../src/events.js';
import type { Facts } from '../../src/facts.js';
import type { Lab } from '../../src/demo/lab/tier1.js';

export type Report = RunReport;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `hvtune ARGS` in-process, capturing its output. */
export async function hvtune(args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: (s) => out.push(s), stderr: (s) => err.push(s), tty: false });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

let counter = 0;
/** Write text to a fresh file in the lab's directory; returns its path. */
export function labFile(lab: Lab, name: string, text: string): string {
  const dir = mkdtempSync(join(lab.dir, `f${counter++}-`));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** `hvtune play` of a playbook given as YAML text, with --json; `report` is the parsed report. */
export async function play(
  lab: Lab,
  playbookYaml: string,
  opts: { check?: boolean; diff?: boolean; args?: string[]; inventory?: string } = {},
): Promise<CliResult & { report: Report }> {
  const file = labFile(lab, 'playbook.yml', playbookYaml);
  const args = [
    'play',
    file,
    '-i',
    opts.inventory ?? lab.inventoryPath,
    '--known-hosts',
    lab.knownHostsPath,
    '--json',
    '--records',
    join(lab.dir, 'runs'),
    ...(opts.check ? ['--check'] : []),
    ...(opts.diff ? ['--diff'] : []),
    ...(opts.args ?? []),
  ];
  const result = await hvtune(args);
  let report: Report;
  try {
    report = JSON.parse(result.stdout) as Report;
  } catch {
    throw new Error(`hvtune ${args.join(' ')} printed no JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  return { ...result, report };
}

/** Total changes a report lists for a host. */
export function changesOn(report: Report, host: string) {
  return report.changes.filter((c) => c.host === host);
}

/**
 * The lab hosts' own facts (`hvtune facts --save`), each passed through `edit`, saved for `play
 * --facts FILE`. A lab test of a hardware branch (CPU vendor, 1 GiB pages) names the branch it
 * takes this way, so it takes the same branch on every machine the suite runs on.
 */
export async function labFacts(lab: Lab, edit: (facts: Facts) => Facts): Promise<string> {
  const gathered = labFile(lab, 'facts.json', '');
  const r = await hvtune(['facts', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--save', gathered]);
  if (r.code !== 0) throw new Error(`hvtune facts failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  const saved = JSON.parse(readFileSync(gathered, 'utf8')) as { hosts: Record<string, Facts> };
  const hosts = Object.fromEntries(Object.entries(saved.hosts).map(([name, f]) => [name, edit(f)]));
  return labFile(lab, 'facts.json', JSON.stringify({ ...saved, hosts }));
}

/** Facts edits for the hardware branches the playbooks take. */
export const withCpuVendor =
  (vendor: 'AuthenticAMD' | 'GenuineIntel') =>
  (f: Facts): Facts => ({ ...f, cpu: { ...f.cpu!, vendor } });
export const with1gPages =
  (pdpe1gb: boolean) =>
  (f: Facts): Facts => ({
    ...f,
    cpu: { ...f.cpu!, features: { ...f.cpu!.features, pdpe1gb } },
  });

/** The newest backup hvtune kept of `path` on a lab host (under /var/lib/hvtune/backups), or null. */
export async function latestBackup(lab: Lab, host: string | { name: string }, path: string): Promise<string | null> {
  const name = typeof host === 'string' ? host : host.name;
  const r = await lab.exec(name, ['sh', '-c', 'ls -1d -- "/var/lib/hvtune/backups$1"@* 2>/dev/null | sort | tail -n 1', 'sh', path]);
  const file = r.stdout.trim();
  return file ? lab.readFile(name, file) : null;
}
