// `hvtune drift (PLAYBOOK | baselines/) -i INV [--json]`: do the hosts still match the playbook, or
// a baseline taken by `hvtune snapshot`? Exit 0 clean, 2 drift, 1 error (tuned-adm verify,
// Terraform's -detailed-exitcode).

import type { Command } from 'commander';
import { isBaselineDir, readBaselineDir } from '../baseline.js';
import { driftAgainstBaselines, driftFromPlan, type HostDrift } from '../drift.js';
import { driftLines } from '../output/state.js';
import { checkRun } from './check-run.js';
import { REDACTED, SecretValues } from '../secrets.js';
import { driftJunit, junitCollector } from '../output/junit.js';
import {
  hostConnector,
  loadInventory,
  loadModules,
  scrubbedSession,
  withJunit,
  withRunOptions,
  writeJunit,
  type RunFlags,
  type Session,
} from './session.js';

interface DriftFlags extends RunFlags {
  json?: boolean;
  junit?: string;
}

export function registerDrift(program: Command, session: Session): void {
  withJunit(
    withRunOptions(
      program.command('drift').description('Compare hosts with a playbook or a baseline directory: exit 0 clean, 2 drift, 1 error.'),
    ),
  )
    .argument('<source>', 'playbook YAML file, or a baseline directory made by `hvtune snapshot`')
    .option('--json', 'print a JSON report')
    .action(async (source: string, o: DriftFlags) => session.setCode(await drift(session, source, o)));
}

async function againstPlaybook(
  session: Session,
  playbook: string,
  o: DriftFlags,
  secrets: SecretValues,
): Promise<Record<string, HostDrift>> {
  const hosts: Record<string, HostDrift> = {};
  // a task that would change something is a failed testcase: the host does not match
  const junit = o.junit ? junitCollector(`hvtune drift ${playbook}`, { driftFails: true, scrub: (t) => secrets.scrub(t) }) : null;
  const modules = await loadModules();
  const hide = (v: string | null) => (v === null ? null : REDACTED);
  const { report } = await checkRun(
    session,
    playbook,
    o,
    (e) => {
      junit?.onEvent(e);
      if (e.type !== 'task-planned') return;
      const { task, module, args, changes, pending, secret } = e.planned;
      const h = (hosts[e.host] ??= { status: 'clean', items: [] });
      const items = driftFromPlan({ task, module }, { changes, pending }, modules.get(module)!.snapshot?.(args, e.observed));
      // a secret task says which setting drifted, not its values
      h.items.push(...(secret ? items.map((i) => ({ ...i, expected: hide(i.expected), actual: hide(i.actual) })) : items));
    },
    secrets,
    'report',
  );
  if (junit) writeJunit(o.junit!, junit.xml());
  for (const h of Object.keys(report.recap)) hosts[h] ??= { status: 'clean', items: [] };
  for (const h of Object.values(hosts)) h.status = h.items.length ? 'drift' : 'clean';
  for (const f of report.failures) {
    const h = hosts[f.host];
    Object.assign(h, { status: 'error', error: h.error ? `${h.error}; ${f.message}` : f.task ? `${f.task}: ${f.message}` : f.message });
  }
  return hosts;
}

async function drift(cli: Session, source: string, o: DriftFlags): Promise<number> {
  const secrets = new SecretValues();
  const session = scrubbedSession(cli, secrets);
  const baseline = isBaselineDir(source);
  let hosts: Record<string, HostDrift>;
  if (baseline) {
    const inventory = loadInventory(o.inventory);
    hosts = await driftAgainstBaselines(readBaselineDir(source), {
      inventory,
      modules: await loadModules(),
      connect: hostConnector(inventory, o),
      forks: o.forks,
    });
    if (o.junit)
      writeJunit(
        o.junit,
        driftJunit(`hvtune drift ${source}`, hosts, (t) => secrets.scrub(t)),
      );
  } else hosts = await againstPlaybook(session, source, o, secrets);
  const list = Object.values(hosts);
  const code = list.some((h) => h.status === 'error') ? 1 : list.some((h) => h.status === 'drift') ? 2 : 0;
  if (o.json) session.io.stdout(JSON.stringify({ against: baseline ? 'baseline' : 'playbook', source, drift: code === 2, hosts }, null, 2));
  else for (const l of driftLines(hosts, { baseline, path: source, code }, session.style)) session.io.stdout(l);
  return code;
}
