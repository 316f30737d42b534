// vitest globalSetup for the lab tests: check that this machine can build tier-1 hosts (LAB.md),
// sweep labs that dead processes left behind, and at the end sweep whatever this run left.

import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LAB_CLEAN = fileURLToPath(new URL('../../scripts/lab-clean', import.meta.url));

/** Each tool the lab runs, with the Debian package that provides it. */
const PREREQUISITES: [tool: string, pkg: string][] = [
  ['/usr/sbin/sshd', 'openssh-server'],
  ['ssh', 'openssh-client'],
  ['ssh-keygen', 'openssh-client'],
  ['ip', 'iproute2'],
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['setpriv', 'util-linux'],
  ['sysctl', 'procps'],
];

function onPath(tool: string): boolean {
  const dirs = tool.includes('/') ? [''] : (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  return dirs.some((dir) => {
    try {
      accessSync(dir ? `${dir}/${tool}` : tool, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function checkPrerequisites(): void {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) {
    problems.push('the lab tests must run as root (they create network, mount and pid namespaces)');
  }
  const missing = PREREQUISITES.filter(([tool]) => !onPath(tool));
  for (const [tool, pkg] of missing) problems.push(`${tool} is missing: apt-get install -y ${pkg}`);
  if (problems.length > 0) {
    throw new Error(`the tier-1 test lab cannot run on this machine:\n  ${problems.join('\n  ')}`);
  }
}

function sweep(args: string[]): void {
  const out = execFileSync('bash', [LAB_CLEAN, ...args], { encoding: 'utf8' });
  if (out.trim()) console.log(out.trim());
}

export default function setup(): () => void {
  checkPrerequisites();
  sweep([]);
  // Workers inherit this; every lab's marker records it, so teardown finds what this run left.
  const run = `vitest-${process.pid}`;
  process.env.HVTUNE_LAB_RUN = run;
  // Run records of tests that apply go to a scratch dir, not the checkout's .hvtune/runs.
  const records = mkdtempSync(join(tmpdir(), 'hvtune-test-records-'));
  process.env.HVTUNE_RECORDS = records;
  // Plans are signed with a key made on first use: a scratch one, never the user's own.
  const planKey = mkdtempSync(join(tmpdir(), 'hvtune-test-plan-key-'));
  process.env.HVTUNE_PLAN_KEY_FILE = join(planKey, 'plan.key');
  return () => {
    sweep(['--run', run]);
    rmSync(records, { recursive: true, force: true });
    rmSync(planKey, { recursive: true, force: true });
  };
}
