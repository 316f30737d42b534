// `hvtune plan PLAYBOOK -i INV -o PLAN.json`: check mode that saves the plan (Terraform's
// `plan -out`): every change with the observed value it was computed from.

import type { Command } from 'commander';
import { exitCode } from '../events.js';
import { writePrivateFile } from '../private-file.js';
import { PLAN_FORMAT, PLAN_VERSION, changeCount, plannedTasksOf, sealPlan, type SavedPlan } from '../planfile.js';
import { SecretValues } from '../secrets.js';
import { signedPlanText } from '../plan-signature.js';
import { plainRenderer } from '../output/plain.js';
import { jsonRenderer } from '../output/json.js';
import { checkRun } from './check-run.js';
import { scrubbedSession, withRunOptions, type RunFlags, type Session } from './session.js';

interface PlanFlags extends RunFlags {
  output: string;
  json?: boolean;
  diff?: boolean;
}

export function registerPlan(program: Command, session: Session): void {
  withRunOptions(
    program
      .command('plan')
      .description(
        'Check mode that saves the plan: every change with the observed value it was computed from (exit 2 if anything would change).',
      ),
  )
    .argument('<playbook>', 'playbook YAML file')
    .requiredOption('-o, --output <file>', 'where to save the plan (JSON)')
    .option('-D, --diff', 'show unified diffs of files')
    .option('--json', 'print the JSON report instead of progress')
    .action(async (playbook: string, o: PlanFlags) => session.setCode(await plan(session, playbook, o)));
}

async function plan(cli: Session, playbookFile: string, o: PlanFlags): Promise<number> {
  const secrets = new SecretValues();
  const session = scrubbedSession(cli, secrets);
  const { io, style } = session;
  const planned = plannedTasksOf();
  const renderer = o.json ? jsonRenderer(io.stdout) : plainRenderer(io.stdout, { diff: !!o.diff, verbose: false, style });
  const { report, inputs, options } = await checkRun(
    session,
    playbookFile,
    o,
    (e) => {
      planned.onEvent(e);
      renderer.handle(e);
    },
    secrets,
  );
  await renderer.done();
  const code = exitCode(report);
  if (code === 1) {
    // As Terraform: a plan that could not be made on every host is not saved.
    io.stderr(
      style.red(
        `error: no plan saved: ${report.failures
          .map((f) => f.host)
          .filter((h, i, a) => a.indexOf(h) === i)
          .join(', ')} failed`,
      ),
    );
    return 1;
  }
  const saved: SavedPlan = {
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    kind: 'plan',
    createdAt: new Date().toISOString(),
    inputs,
    options,
    hosts: planned.hosts,
  };
  // secret tasks sealed, secret values as markers that apply resolves from -e; then signed
  const sealed = sealPlan(saved, secrets);
  writePrivateFile(o.output, signedPlanText(sealed));
  for (const task of literalSecretTasks(sealed))
    io.stderr(
      style.yellow(
        `warning: ${task}: a secret task whose arguments hold no secret var: they are saved in the plan as the playbook has them (give secrets through secret_vars to keep them out)`,
      ),
    );
  const n = changeCount(saved);
  const msg =
    n === 0
      ? `no changes; plan saved to ${o.output}`
      : `${n} change(s) saved to ${o.output}; apply exactly these with: hvtune apply ${o.output}`;
  (o.json ? io.stderr : io.stdout)(msg);
  return code;
}

/** Secret tasks whose saved args hold no marker: whatever secret they write is in the playbook, and so in the plan. */
function literalSecretTasks(plan: SavedPlan): string[] {
  const names = Object.values(plan.hosts).flatMap((h) =>
    h.tasks.filter((t) => t.secret && t.changes.length > 0 && !JSON.stringify(t.args).includes('<secret:')).map((t) => t.task),
  );
  return [...new Set(names)];
}
