// The command line, with Ansible's and Terraform's conventions. `runCli` takes argv and streams so
// tests run it in-process; bin/hvtune.js calls it with the process's own. Each command registers
// itself from its own file in commands/; what they share is in commands/session.ts.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { HvtuneError, InputError, formatProblem } from './errors.js';
import { colors, noColors } from './output/format.js';
import { registerApply } from './commands/apply.js';
import { registerDemo } from './commands/demo.js';
import { registerDoc } from './commands/doc.js';
import { registerDrift } from './commands/drift.js';
import { registerFacts } from './commands/facts.js';
import { registerInventory } from './commands/inventory.js';
import { registerMap } from './commands/map.js';
import { registerPlan } from './commands/plan.js';
import { registerPlay } from './commands/play.js';
import { registerReport } from './commands/report.js';
import { registerProbe } from './commands/probe.js';
import { registerRollback } from './commands/rollback.js';
import { registerShow } from './commands/show.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerValidate } from './commands/validate.js';
import { BecomePassword, type CliIO, type Session } from './commands/session.js';

export type { CliIO };

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let code = 0;
  const session: Session = { io, style: io.tty ? colors : noColors, setCode: (c) => (code = c) };
  const program = new Command('hvtune')
    .description('Declarative performance tuning of KVM/libvirt and XenServer hosts and guests over SSH.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s.trimEnd()), writeErr: (s) => io.stderr(s.trimEnd()) })
    .showHelpAfterError()
    .version(`hvtune ${version()}`, '--version', 'print the version of hvtune');

  // -K: asked once, before anything connects, for every command that takes it
  program.hook('preAction', async (_program, action) => {
    if (!action.opts().askBecomePass) return;
    if (!io.askSecret) throw new HvtuneError('-K: no terminal to ask the become password on');
    const password = await io.askSecret('BECOME password: ');
    if (password === '') throw new HvtuneError('-K: no password given');
    action.setOptionValue('becomePassword', new BecomePassword(password));
  });

  registerPlay(program, session);
  registerFacts(program, session);
  registerValidate(program, session);
  registerDoc(program, session);
  registerDemo(program, session, runCli);
  registerPlan(program, session);
  registerApply(program, session);
  registerShow(program, session);
  registerSnapshot(program, session);
  registerDrift(program, session);
  registerRollback(program, session);
  registerInventory(program, session);
  registerReport(program, session);
  registerProbe(program, session);
  registerMap(program, session);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    if (err instanceof InputError) {
      for (const p of err.problems) io.stderr(session.style.red('error: ') + formatProblem(p));
      return 1;
    }
    if (err instanceof HvtuneError) {
      io.stderr(session.style.red('error: ') + err.message);
      return 1;
    }
    throw err;
  }
  return code;
}

/** The version in package.json (two levels up from dist/src/cli.js, one from src/cli.ts). */
function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}
