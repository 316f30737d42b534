// `hvtune snapshot PLAYBOOK -i INV -o baselines/`: per host, the desired, persisted and live value
// of every setting the playbook manages (src/baseline.ts).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { RunEvent } from '../events.js';
import { serialiseBaseline, taskSnapshot, type Baseline } from '../baseline.js';
import { snapshotLine } from '../output/state.js';
import { checkRun } from './check-run.js';
import { SecretValues } from '../secrets.js';
import { scrubbedSession, withRunOptions, type RunFlags, type Session } from './session.js';

interface SnapshotFlags extends RunFlags {
  output: string;
}

export function registerSnapshot(program: Command, session: Session): void {
  withRunOptions(
    program
      .command('snapshot')
      .description('Save per host the desired, persisted and live value of every setting the playbook manages (baselines/HOST.yml).'),
  )
    .argument('<playbook>', 'playbook YAML file')
    .requiredOption('-o, --output <dir>', 'baseline directory')
    .action(async (playbook: string, o: SnapshotFlags) => session.setCode(await snapshot(session, playbook, o)));
}

async function snapshot(cli: Session, playbookFile: string, o: SnapshotFlags): Promise<number> {
  const secrets = new SecretValues();
  const session = scrubbedSession(cli, secrets);
  const baselines = new Map<string, Baseline>();
  const events: RunEvent[] = [];
  const { report, loaded } = await checkRun(session, playbookFile, o, (e) => events.push(e), secrets, 'report');
  const leftOut = new Set<string>();
  for (const e of events) {
    if (e.type !== 'task-planned') continue;
    const b = baselines.get(e.host) ?? { host: e.host, tasks: [] };
    baselines.set(e.host, b);
    // a baseline keeps args and values to compare with later: a secret task has none to keep
    if (e.planned.secret) {
      leftOut.add(e.planned.task);
      continue;
    }
    const { task, module, args, changes } = e.planned;
    b.tasks.push({ task, module, args, ...taskSnapshot(loaded.modules.get(module)!, args, e.observed, changes) });
  }
  for (const t of leftOut)
    session.io.stderr(session.style.yellow(`note: ${t}: a secret task, not in the baselines (hvtune drift PLAYBOOK checks it)`));
  const failed = new Set(report.failures.map((f) => f.host));
  mkdirSync(o.output, { recursive: true });
  for (const [host, b] of baselines) {
    if (failed.has(host)) continue;
    const path = join(o.output, `${host}.yml`);
    const text = serialiseBaseline(b);
    const before = existsSync(path) ? readFileSync(path, 'utf8') : null;
    if (before !== text) writeFileSync(path, text);
    const settings = b.tasks.reduce((n, t) => n + Object.keys(t.settings).length, 0);
    session.io.stdout(snapshotLine(host, settings, path, before === null ? 'new' : before === text ? 'same' : 'changed'));
  }
  for (const f of report.failures) session.io.stderr(session.style.red(`${f.host}: no baseline: ${f.message}`));
  return failed.size ? 1 : 0;
}
