// `hvtune probe -i INV [--limit P] [--json] [-o FILE] [--interval S]`: the measured effect of
// tuning — each host sampled twice over the interval, one round trip per sample, as rates.
// `hvtune probe --compare BEFORE.json AFTER.json`: the differences that matter between two runs.

import { type Command, InvalidArgumentError } from 'commander';
import { HvtuneError } from '../errors.js';
import { errorMessage } from '../engine/errors.js';
import { forEachLimited } from '../engine/limit.js';
import { selectHosts, type Inventory, type InventoryHost } from '../inventory.js';
import { formatComparison, formatProbe } from '../output/probe.js';
import { writePrivateFile } from '../private-file.js';
import { compareProbes } from '../probe/compare.js';
import { loadProbeReport } from '../probe/report-file.js';
import { probeHost } from '../probe/sample.js';
import type { HostProbe, ProbeReport } from '../probe/types.js';
import type { ConnectedHandle } from '../engine/saved-plan.js';
import {
  INVENTORY_FLAGS,
  INVENTORY_HELP,
  collect,
  hostConnector,
  loadInventory,
  withConnection,
  withForks,
  type ConnectionFlags,
  type Session,
} from './session.js';

export interface ProbeCommandOptions {
  inventory: Inventory;
  limit?: string;
  interval: number;
  connect: (host: InventoryHost) => Promise<ConnectedHandle>;
  forks?: number;
}

export async function probeCommand(o: ProbeCommandOptions): Promise<ProbeReport> {
  const names = o.limit ? selectHosts(o.inventory, o.limit) : [...o.inventory.hosts.keys()];
  if (names.length === 0) throw new HvtuneError(`no host of ${o.inventory.file} matches ${JSON.stringify(o.limit ?? 'all')}`);
  const taken = new Date().toISOString();
  const hosts: Record<string, HostProbe> = {};
  const failures: Record<string, string> = {};
  await forEachLimited(names, o.forks ?? 20, async (name) => {
    try {
      const host = await o.connect(o.inventory.hosts.get(name)!);
      try {
        hosts[name] = await probeHost(host, host.facts, o.interval);
      } finally {
        await host.close();
      }
    } catch (err) {
      failures[name] = errorMessage(err);
    }
  });
  const ordered = Object.fromEntries(names.filter((n) => hosts[n]).map((n) => [n, hosts[n]]));
  return { format: 'hvtune-probe', version: 1, taken, interval: o.interval, hosts: ordered, failures };
}

interface ProbeFlags extends ConnectionFlags {
  inventory?: string[];
  limit?: string;
  json?: boolean;
  output?: string;
  interval: number;
  compare?: boolean;
  all?: boolean;
  forks: number;
}

/** --interval: seconds between the two samples, above 0 and at most an hour. */
function parseInterval(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 3600)
    throw new InvalidArgumentError(`expected seconds between the two samples, above 0 and at most 3600 (got ${JSON.stringify(value)})`);
  return n;
}

export function registerProbe(program: Command, session: Session): void {
  withForks(
    withConnection(
      program
        .command('probe')
        .description(
          'Measure: softnet drops and squeezes, NET_RX per CPU, NIC drop counters, queue IRQs per CPU, NUMA memory, vCPU pins, vhost threads — as rates.',
        )
        .argument('[reports...]', 'with --compare: BEFORE.json AFTER.json')
        .option(INVENTORY_FLAGS, INVENTORY_HELP, collect)
        .option('-l, --limit <pattern>', 'only hosts matching this pattern')
        .option('--interval <seconds>', 'seconds between the two samples', parseInterval, 5)
        .option('--json', 'print the JSON report')
        .option('-o, --output <file>', 'save the JSON report, for --compare')
        .option('--compare', 'compare two saved reports: BEFORE.json AFTER.json')
        .option('--all', 'with --compare: also the figures that did not change'),
    ),
  ).action(async (reports: string[], o: ProbeFlags) => {
    const { io } = session;
    if (o.compare) {
      if (reports.length !== 2) throw new HvtuneError(`--compare takes two saved reports, BEFORE.json AFTER.json (got ${reports.length})`);
      const [before, after] = reports.map(loadProbeReport);
      const result = compareProbes(before, after, { all: !!o.all });
      if (o.json) io.stdout(JSON.stringify(result, null, 2));
      else io.stdout(formatComparison(result.lines, result.missing, session.style));
      session.setCode(0);
      return;
    }
    if (reports.length) throw new HvtuneError(`reports are read only with --compare (got ${reports.join(' ')})`);
    if (!o.inventory?.length) throw new HvtuneError('probe needs an inventory: -i INVENTORY (or --compare BEFORE.json AFTER.json)');
    const inventory = loadInventory(o.inventory);
    const report = await probeCommand({
      inventory,
      limit: o.limit,
      interval: o.interval,
      connect: hostConnector(inventory, o),
      forks: o.forks,
    });
    if (o.output) writePrivateFile(o.output, JSON.stringify(report, null, 2) + '\n');
    if (o.json) io.stdout(JSON.stringify(report, null, 2));
    else {
      for (const [name, p] of Object.entries(report.hosts)) io.stdout(formatProbe(name, p));
      for (const [name, why] of Object.entries(report.failures)) io.stderr(`${name}: UNREACHABLE: ${why}`);
    }
    session.setCode(Object.keys(report.failures).length ? 1 : 0);
  });
}
