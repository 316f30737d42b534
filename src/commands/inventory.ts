// `hvtune inventory -i SOURCE… --list | --host NAME | --graph`: the inventory as hvtune reads it —
// hosts, groups and each host's variables after precedence — without connecting.

import type { Command } from 'commander';
import { HvtuneError, formatProblem } from '../errors.js';
import { closestMatches } from '../schema.js';
import { hostVariables, inventoryGraph, inventoryList } from '../output/inventory.js';
import { parseExtraVars } from '../inventory.js';
import { INVENTORY_FLAGS, INVENTORY_HELP, collect, loadInventory, type Session } from './session.js';

interface InventoryFlags {
  inventory: string[];
  list?: boolean;
  host?: string;
  graph?: boolean | string;
  playbookDir?: string;
  extraVars: string[];
}

export function registerInventory(program: Command, session: Session): void {
  program
    .command('inventory')
    .description("Show the inventory as hvtune reads it (ansible-inventory's --list, --host, --graph), without connecting.")
    .requiredOption(INVENTORY_FLAGS, INVENTORY_HELP, collect)
    .option('--list', "every host and group, with each host's variables (JSON, ansible-inventory --list's shape)")
    .option('--host <name>', "one host's variables (JSON)")
    .option('--graph [group]', 'the group tree, from all or from a group')
    .option('--playbook-dir <dir>', 'also read group_vars/ and host_vars/ beside a playbook in this folder')
    .option('-e, --extra-vars <key=value>', 'extra variable (highest precedence)', collect, [])
    .action((o: InventoryFlags) => {
      const chosen = [o.list, o.host, o.graph].filter((x) => x !== undefined).length;
      if (chosen !== 1) throw new HvtuneError('say what to show: one of --list, --host NAME or --graph');
      const inv = loadInventory(o.inventory, parseExtraVars(o.extraVars), { playbookDir: o.playbookDir });
      for (const w of inv.warnings ?? []) session.io.stderr(`warning: ${formatProblem(w)}`);
      if (o.list) return session.io.stdout(JSON.stringify(inventoryList(inv), null, 4));
      if (o.host !== undefined) {
        const host = inv.hosts.get(o.host);
        if (!host) {
          const close = closestMatches(o.host, inv.hosts.keys());
          throw new HvtuneError(`no host "${o.host}" in ${inv.file}${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}`);
        }
        return session.io.stdout(JSON.stringify(hostVariables(host), null, 4));
      }
      const root = typeof o.graph === 'string' ? o.graph : 'all';
      if (!inv.groups.has(root)) throw new HvtuneError(`no group "${root}" in ${inv.file}`);
      for (const l of inventoryGraph(inv, root)) session.io.stdout(l);
    });
}
