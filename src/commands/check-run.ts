// A check run of a playbook whose task plans a command keeps (plan, snapshot, drift): the engine in
// check mode, nothing changed on any host.

import type { RunEvent, RunReport } from '../events.js';
import { runPlaybook } from '../engine/run.js';
import { planInputs, type PlanInputs, type SavedPlan } from '../planfile.js';
import type { SecretValues } from '../secrets.js';
import { checkTags } from '../tags.js';
import { loadInputs, runOptions, splitTags, sshConnector, type Inputs, type RunFlags, type Session } from './session.js';

export interface CheckRun {
  report: RunReport;
  inputs: PlanInputs;
  options: SavedPlan['options'];
  loaded: Inputs;
}

/** `secrets` learns the values of the plays' secret_vars as hosts render them. */
export async function checkRun(
  session: Session,
  playbookFile: string,
  o: RunFlags,
  onEvent: (e: RunEvent) => void,
  secrets?: SecretValues,
  crossCheckErrors: 'stop' | 'report' = 'stop',
): Promise<CheckRun> {
  const loaded = await loadInputs(playbookFile, o.inventory, o.extraVars, session.io.stderr, { limit: o.limit });
  const { inventory, playbook, modules } = loaded;
  checkTags(playbook, splitTags(o.tags));
  const run = await runOptions(o);
  const report = await runPlaybook(
    playbook,
    inventory,
    modules,
    sshConnector(inventory, o),
    { check: true, ...run, secrets, crossCheckErrors },
    onEvent,
  );
  const options = { limit: run.limit, tags: run.tags, skipTags: run.skipTags, extraVars: run.extraVars };
  return { report, inputs: planInputs(playbookFile, inventory, playbook), options, loaded };
}
