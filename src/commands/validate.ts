// `hvtune validate PLAYBOOK -i INVENTORY`: schema, modules and templates, without connecting.

import type { Command } from 'commander';
import { selectHosts } from '../patterns.js';
import { collect, loadInputs, playHosts, withInventory, type Session } from './session.js';

export function registerValidate(program: Command, session: Session): void {
  withInventory(
    program
      .command('validate')
      .description('Check a playbook and inventory (schema, modules, templates) without connecting to any host.')
      .argument('<playbook>', 'playbook YAML file'),
  )
    .option('-e, --extra-vars <key=value>', 'extra variable', collect, [])
    .action(async (playbookFile: string, o: { inventory: string[]; extraVars: string[] }) => {
      const { io, style } = session;
      const { playbook, inventory } = await loadInputs(playbookFile, o.inventory, o.extraVars, io.stderr);
      const hosts = playHosts(playbook, inventory);
      const tasks = playbook.plays.reduce((n, p) => n + p.tasks.length + p.handlers.length, 0);
      for (const play of playbook.plays) {
        if (selectHosts(inventory, play.hosts).length === 0)
          io.stderr(style.yellow(`warning: play "${play.name}": no hosts match "${play.hosts}"`));
      }
      io.stdout(`${playbookFile}: ${playbook.plays.length} play(s), ${tasks} task(s), ${hosts.length} host(s): valid`);
    });
}
