// `hvtune modules` and `hvtune doc MODULE` (like ansible-doc, from the schema).

import type { Command } from 'commander';
import { docText, modulesText } from '../output/doc.js';
import { loadModules, type Session } from './session.js';

export function registerDoc(program: Command, session: Session): void {
  program
    .command('modules')
    .description('List the modules.')
    .action(async () => session.io.stdout(modulesText(await loadModules())));

  program
    .command('doc')
    .description('Show the arguments of a module, from its schema (like ansible-doc).')
    .argument('<module>', 'module name')
    .action(async (name: string) => session.io.stdout(docText(await loadModules(), name)));
}
