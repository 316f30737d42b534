// The command line, with Ansible's and Terraform's conventions. `runCli` takes argv and streams so
// tests run it in-process; bin/hvtune.js calls it with the process's own. Each command registers
// itself from its own file in commands/; what they share is in commands/session.ts.

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
import { registerRollback } from './commands/rollback.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerValidate } from './commands/validate.js';
import type { CliIO, Session } from './commands/session.js';

export type { CliIO };

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let code = 0;
  const session: Session = { io, style: io.tty ? colors : noColors, setCode: (c) => (code = c) };
  const program = new Command('hvtune')
    .description('Declarative performance tuning of KVM/libvirt and XenServer hosts and guests over SSH.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s.trimEnd()), writeErr: (s) => io.stderr(s.trimEnd()) })
    .showHelpAfterError();

  registerPlay(program, session);
  registerFacts(program, session);
  registerValidate(program, session);
  registerDoc(program, session);
  registerDemo(program, session, runCli);
  registerPlan(program, session);
  registerApply(program, session);
  registerSnapshot(program, session);
  registerDrift(program, session);
  registerRollback(program, session);
  registerInventory(program, session);
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
