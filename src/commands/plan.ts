// `hvtune plan PLAYBOOK -i INV [-o PLAN.json]`: check mode that, with -o, saves the plan (Terraform's
// `plan -out`): every change with the observed value it was computed from. Exit codes as
// Terraform's: 0 when the plan was made (and saved), 1 on error; `--detailed-exitcode` adds 2 for
// changes.

import type { Command } from 'commander';
import { exitCode } from '../events.js';
import { writePrivateFile } from '../private-file.js';
import { PLAN_FORMAT, PLAN_VERSION, changeCount, plannedTasksOf, sealPlan, type SavedPlan } from '../planfile.js';
import { SecretValues } from '../secrets.js';
import { signedPlanText } from '../plan-signature.js';
import { plainRenderer } from '../output/plain.js';
import { jsonRenderer } from '../output/json.js';
import { checkRun } from './check-run.js';
import { junitCollector } from '../output/junit.js';
import { scrubbedSession, withJunit, withRunOptions, writeJunit, type RunFlags, type Session } from './session.js';

interface PlanFlags extends RunFlags {
  output?: string;
  json?: boolean;
  diff?: boolean;
  detailedExitcode?: boolean;
  junit?: string;
}

export function registerPlan(program: Command, session: Session): void {
  withJunit(
    withRunOptions(
      program
        .command('plan')
        .description(
          'Check mode that prints the plan and, with -o, saves it: every change with the observed value it was computed from (exit 0 made, 1 error; --detailed-exitcode: 2 changes).',
        ),
    ),
  )
    .argument('<playbook>', 'playbook YAML file')
    .option('-o, --output <file>', 'save the plan (JSON, signed) for hvtune apply')
    .option('--detailed-exitcode', "Terraform's: exit 0 no changes, 1 error, 2 changes")
    .option('-D, --diff', 'show unified diffs of files')
    .option('--json', 'print the JSON report instead of progress')
    .action(async (playbook: string, o: PlanFlags) => session.setCode(await plan(session, playbook, o)));
}

async function plan(cli: Session, playbookFile: string, o: PlanFlags): Promise<number> {
  const secrets = new SecretValues();
  const session = scrubbedSession(cli, secrets);
  const { io, style } = session;
  const planned = plannedTasksOf();
  const plays: string[] = [];
  const hostOrder: string[] = [];
  const renderer = o.json ? jsonRenderer(io.stdout) : plainRenderer(io.stdout, { diff: !!o.diff, verbose: false, style });
  const junit = o.junit ? junitCollector(`hvtune plan ${playbookFile}`, { scrub: (t) => secrets.scrub(t) }) : null;
  const { report, inputs, options } = await checkRun(
    session,
    playbookFile,
    o,
    (e) => {
      planned.onEvent(e);
      junit?.onEvent(e);
      if (e.type === 'play-start') {
        plays[e.index] = e.play;
        for (const h of e.hosts) if (!hostOrder.includes(h)) hostOrder.push(h);
      }
      renderer.handle(e);
    },
    secrets,
  );
  await renderer.done();
  if (junit) writeJunit(o.junit!, junit.xml());
  const code = exitCode(report);
  // Terraform's codes: a plan made is a success, changes or not, unless asked for the detail
  const success = o.detailedExitcode ? code : 0;
  if (code === 1 && !o.output) return 1;
  if (!o.output) return success;
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
    plays,
    inputs,
    options,
    // hosts in the plays' (inventory) order, not in the order they finished
    hosts: Object.fromEntries(hostOrder.filter((h) => planned.hosts[h]).map((h) => [h, planned.hosts[h]])),
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
  return success;
}

/** Secret tasks whose saved args hold no marker: whatever secret they write is in the playbook, and so in the plan. */
function literalSecretTasks(plan: SavedPlan): string[] {
  const names = Object.values(plan.hosts).flatMap((h) =>
    h.tasks.filter((t) => t.secret && t.changes.length > 0 && !JSON.stringify(t.args).includes('<secret:')).map((t) => t.task),
  );
  return [...new Set(names)];
}
