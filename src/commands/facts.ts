// `hvtune facts -i INV [--limit H] [--json] [--save FILE]`: gather facts from hosts and print
// them, or save them for `--facts FILE` (offline planning for a machine one cannot reach, and
// repeatable topology tests). The CLI resolves the inventory and passes a connector.

import type { Command } from 'commander';
import { HvtuneError } from '../errors.js';
import { writePrivateFile } from '../private-file.js';
import { errorMessage } from '../engine/errors.js';
import { forEachLimited } from '../engine/limit.js';
import type { Facts } from '../facts.js';
import type { SavedFacts } from '../facts/saved.js';
import { selectHosts, type Inventory, type InventoryHost } from '../inventory.js';
import { formatFacts } from '../output/facts.js';
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

/** What a connection must offer: facts gathered on connect (connectHost does), and close. */
export interface FactsSource {
  readonly facts: Facts;
  close(): Promise<void>;
}

export interface FactsCommandOptions {
  inventory: Inventory;
  limit?: string;
  connect: (host: InventoryHost) => Promise<FactsSource>;
  json?: boolean;
  save?: string;
  forks?: number;
  out: (text: string) => void;
  err?: (text: string) => void;
}

export interface FactsCommandResult {
  code: number;
  hosts: Record<string, Facts>;
  failures: Record<string, string>;
}

export async function factsCommand(o: FactsCommandOptions): Promise<FactsCommandResult> {
  const names = o.limit ? selectHosts(o.inventory, o.limit) : [...o.inventory.hosts.keys()];
  if (names.length === 0) throw new HvtuneError(`no host of ${o.inventory.file} matches ${JSON.stringify(o.limit ?? 'all')}`);
  const hosts: Record<string, Facts> = {};
  const failures: Record<string, string> = {};
  await forEachLimited(names, o.forks ?? 20, async (name) => {
    try {
      const conn = await o.connect(o.inventory.hosts.get(name)!);
      try {
        hosts[name] = conn.facts;
      } finally {
        await conn.close();
      }
    } catch (err) {
      failures[name] = errorMessage(err);
    }
  });
  // Inventory order, whatever order the hosts answered in.
  const ordered = Object.fromEntries(names.filter((n) => hosts[n]).map((n) => [n, hosts[n]]));
  if (o.save) {
    const saved: SavedFacts = { format: 'hvtune-facts', version: 1, gathered: new Date().toISOString(), hosts: ordered };
    writePrivateFile(o.save, JSON.stringify(saved, null, 2) + '\n');
  }
  if (o.json) o.out(JSON.stringify({ hosts: ordered, failures }, null, 2));
  else {
    for (const name of names) {
      if (ordered[name]) o.out(formatFacts(name, ordered[name]));
      else (o.err ?? o.out)(`${name}: UNREACHABLE: ${failures[name]}`);
    }
  }
  return { code: Object.keys(failures).length ? 1 : 0, hosts: ordered, failures };
}

interface FactsFlags extends ConnectionFlags {
  inventory: string[];
  limit?: string;
  json?: boolean;
  save?: string;
  forks: number;
}

export function registerFacts(program: Command, session: Session): void {
  withForks(
    withConnection(
      program
        .command('facts')
        .description('Gather and print facts: CPU/NUMA topology, NICs, memory, boot, role, domains.')
        .requiredOption(INVENTORY_FLAGS, INVENTORY_HELP, collect)
        .option('-l, --limit <pattern>', 'only hosts matching this pattern')
        .option('--json', 'print JSON')
        .option('--save <file>', 'save the facts to a file, for `hvtune play --facts FILE`'),
    ),
  ).action(async (o: FactsFlags) => {
    const inventory = loadInventory(o.inventory);
    const connect = hostConnector(inventory, o);
    const result = await factsCommand({
      inventory,
      limit: o.limit,
      // connectHost gathers the facts in one round trip when given none
      connect: (host) => connect(host),
      json: !!o.json,
      save: o.save,
      forks: o.forks,
      out: session.io.stdout,
      err: session.io.stderr,
    });
    session.setCode(result.code);
  });
}
