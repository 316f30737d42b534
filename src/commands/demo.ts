// `hvtune demo`: the main job end to end on an embedded default. Starts a small lab of real SSH
// hosts (network namespaces, overlay roots, real sshd), runs the example playbook with
// --check --diff, applies it, runs it again (expecting zero changes), and tears the lab down.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { parseForks, type CliIO, type Session } from './session.js';

/** Runs `hvtune ARGS` in this process (the CLI hands its own entry point: no import back into it). */
export type RunCli = (argv: string[], io: CliIO) => Promise<number>;

export function registerDemo(program: Command, session: Session, runCli: RunCli): void {
  program
    .command('demo')
    .description('Start a lab of real SSH hosts, run the example playbook with --check --diff, apply it, run it again, tear the lab down.')
    .option('--hosts <n>', 'lab hosts', parseForks, 3)
    .action(async (o: { hosts: number }) => session.setCode(await runDemo({ hosts: o.hosts }, session.io, runCli)));
}

/** The project's root (where package.json is), from src/ in tests or dist/src/ when built. */
function projectFile(rel: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, rel);
}

export async function runDemo(opts: { hosts: number }, io: CliIO, runCli: RunCli): Promise<number> {
  const { createLab } = await import('../demo/lab/tier1.js');
  const playbook = projectFile('playbooks/tcp-tuning.yml');
  io.stdout(`Starting a lab of ${opts.hosts} hosts (network namespaces + overlay root + sshd)…`);
  const t0 = Date.now();
  const lab = await createLab({ hosts: opts.hosts, tag: 'demo' });
  const stop = () => lab.destroy();
  const onSignal = () => void stop().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    io.stdout(`Lab ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${lab.hosts.map((h) => `${h.name}=${h.address}`).join(' ')}`);
    // the demo's run records go with its lab, not into the current directory
    const base = [playbook, '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--records', join(lab.dir, 'runs')];
    const steps: [title: string, args: string[], expect: number][] = [
      ['1. Check mode with diffs: shows every change, changes nothing (exit 2 = changes pending)', ['--check', '--diff'], 2],
      ['2. Apply', ['--diff'], 0],
      ['3. Apply again: nothing left to change (exit 0, changed=0)', [], 0],
      ['4. Check mode again: nothing pending (exit 0)', ['--check'], 0],
    ];
    for (const [title, extra, expect] of steps) {
      io.stdout(`\n=== ${title}\n$ hvtune play ${[...base, ...extra].join(' ')}`);
      const code = await runCli(['play', ...base, ...extra], io);
      io.stdout(`(exit ${code})`);
      if (code !== expect) {
        io.stderr(`demo: expected exit ${expect}, got ${code}`);
        return 1;
      }
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stop();
  }
}
