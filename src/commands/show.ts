// `hvtune show PLAN.json [--diff] [--json]`: a saved plan printed as check mode printed it when it
// was made (Terraform's `show`), after its signature is verified. Nothing connects; secret tasks
// stay sealed (their digests are all the plan has).

import type { Command } from 'commander';
import { savedPlanEvents } from '../engine/plan-events.js';
import { changedInputs } from '../planfile.js';
import { readSignedPlan } from '../plan-signature.js';
import { plainRenderer } from '../output/plain.js';
import type { Session } from './session.js';

interface ShowFlags {
  diff?: boolean;
  json?: boolean;
}

export function registerShow(program: Command, session: Session): void {
  program
    .command('show')
    .description('Print a saved plan (from hvtune plan -o or rollback -o) as check mode would, after verifying its signature.')
    .argument('<plan>', 'plan file')
    .option('-D, --diff', 'show unified diffs of files')
    .option('--json', 'print the JSON report check mode prints, with the plan file and when it was made')
    .action(async (planFile: string, o: ShowFlags) => session.setCode(await show(session, planFile, o)));
}

async function show({ io, style }: Session, planFile: string, o: ShowFlags): Promise<number> {
  const plan = readSignedPlan(planFile);
  const { events, report } = savedPlanEvents(plan);
  const stale = changedInputs(plan.inputs);
  if (o.json) {
    const about = { file: planFile, kind: plan.kind, createdAt: plan.createdAt, changedInputs: stale };
    io.stdout(JSON.stringify({ plan: about, ...report }, null, 2));
    return 0;
  }
  io.stdout(style.dim(`${plan.kind === 'rollback' ? 'rollback plan' : 'plan'} ${planFile}, made ${plan.createdAt}`));
  for (const w of stale) io.stderr(style.yellow(`warning: ${w}: the plan shows (and apply runs) what was planned then`));
  const renderer = plainRenderer(io.stdout, { diff: !!o.diff, verbose: false, style });
  for (const e of events) renderer.handle(e);
  await renderer.done();
  return 0;
}
