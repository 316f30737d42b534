// `hvtune validate PLAYBOOK… -i INVENTORY [--facts FILE]`: schema, modules and templates, without
// connecting; with saved facts, the cross-checks that need no host over every playbook together.

import type { Command } from 'commander';
import type { CrossTask } from '../module.js';
import { loadFactsFile } from '../facts/saved.js';
import { parseExtraVars } from '../inventory.js';
import { selectHosts } from '../patterns.js';
import { crossCheckLine, crossChecksOf, runCrossChecks } from '../engine/cross-checks.js';
import { offlineTasks } from '../engine/offline-tasks.js';
import { collect, loadInputs, playHosts, withInventory, type Inputs, type Session } from './session.js';

export function registerValidate(program: Command, session: Session): void {
  withInventory(
    program
      .command('validate')
      .description(
        'Check playbooks and an inventory (schema, modules, templates) without connecting to any host; with --facts, also the cross-checks between their settings.',
      )
      .argument('<playbooks...>', 'playbook YAML file(s); with --facts their settings are judged together, per host'),
  )
    .option('-e, --extra-vars <key=value>', 'extra variable', collect, [])
    .option('--facts <file>', 'facts saved by `hvtune facts --save`: run the cross-checks that need no host on them')
    .action(async (playbookFiles: string[], o: { inventory: string[]; extraVars: string[]; facts?: string }) => {
      const { io, style } = session;
      const loaded: Inputs[] = [];
      for (const playbookFile of playbookFiles) {
        const inputs = await loadInputs(playbookFile, o.inventory, o.extraVars, io.stderr);
        const { playbook, inventory } = inputs;
        const hosts = playHosts(playbook, inventory);
        const tasks = playbook.plays.reduce((n, p) => n + p.tasks.length + p.handlers.length, 0);
        for (const play of playbook.plays) {
          if (selectHosts(inventory, play.hosts).length === 0)
            io.stderr(style.yellow(`warning: play "${play.name}": no hosts match "${play.hosts}"`));
        }
        io.stdout(`${playbookFile}: ${playbook.plays.length} play(s), ${tasks} task(s), ${hosts.length} host(s): valid`);
        loaded.push(inputs);
      }
      if (o.facts === undefined) return;
      const facts = await loadFactsFile(o.facts);
      const extraVars = parseExtraVars(o.extraVars);
      const checks = crossChecksOf(loaded[0].modules.values());
      const perHost = new Map<string, CrossTask[]>();
      const notes: string[] = [];
      const noFacts = new Set<string>();
      for (const { playbook, inventory, modules } of loaded) {
        for (const play of playbook.plays) {
          for (const name of selectHosts(inventory, play.hosts)) {
            if (!facts[name]) {
              noFacts.add(name);
              continue;
            }
            const { tasks, left } = offlineTasks(play, inventory.hosts.get(name)!, facts[name], extraVars, modules);
            perHost.set(name, [...(perHost.get(name) ?? []), ...tasks]);
            for (const l of left) notes.push(`${name}: ${playbook.file}: ${l}`);
          }
        }
      }
      let errors = 0;
      let warnings = 0;
      const unknown: string[] = [];
      let skipped: string[] = [];
      for (const [name, tasks] of perHost) {
        const run = runCrossChecks(checks, { host: name, facts: facts[name], tasks }, { offline: true });
        for (const p of run.problems) {
          if (p.severity === 'error') errors++;
          else warnings++;
          io.stdout((p.severity === 'error' ? style.red : style.yellow)(crossCheckLine(p)));
        }
        for (const u of run.unknown) unknown.push(`${name}: [${u.rule}] ${u.what}`);
        skipped = run.skipped.map((c) => `${c.id} (${c.description})`);
      }
      io.stdout(
        `cross-checks on ${o.facts}: ${perHost.size} host(s), ${checks.length - skipped.length} rule(s) run: ${errors} error(s), ${warnings} warning(s)`,
      );
      if (skipped.length) io.stdout(`skipped for lack of a host (they judge what tasks read on it): ${skipped.join('; ')}`);
      for (const u of unknown) io.stdout(`not judged, unknown offline: ${u}`);
      for (const n of notes) io.stdout(`not rendered offline: ${n}`);
      if (noFacts.size) io.stdout(`no saved facts, not cross-checked: ${[...noFacts].join(' ')}`);
      if (errors) session.setCode(1);
    });
}
