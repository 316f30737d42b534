// The engine over this machine's /bin/sh: one inventory host, "local", for engine tests whose
// modules are test input.

import { LocalShell, RemoteHost } from '../../../src/host.js';
import { parseInventory } from '../../../src/inventory.js';
import type { Module } from '../../../src/module.js';
import { parsePlaybook } from '../../../src/playbook.js';
import { runPlaybook, type ConnectedHost } from '../../../src/engine/run.js';
import type { Facts } from '../../../src/facts.js';
import type { RunEvent } from '../../../src/events.js';
import type { SecretValues } from '../../../src/secrets.js';

/**
 * Run one play of `tasks` (YAML lines of the task list) on the local host; `play` adds lines to the
 * play (vars, secret_vars), `onEvent` sees the events.
 */
export function runLocal(
  modules: ReadonlyMap<string, Module>,
  tasks: string[],
  opts: {
    check: boolean;
    play?: string[];
    secrets?: SecretValues;
    onEvent?: (e: RunEvent) => void;
    crossCheckErrors?: 'stop' | 'report';
  },
) {
  const book = parsePlaybook(
    `- name: p\n  hosts: all\n  gather_facts: false\n${(opts.play ?? []).map((l) => `  ${l}\n`).join('')}  tasks:\n${tasks.map((t) => `    - ${t}\n`).join('')}`,
    'p.yml',
    modules,
  );
  const inventory = parseInventory('all:\n  hosts:\n    local: {}\n', 'inv.yml');
  const connect = async (): Promise<ConnectedHost> => {
    const host = new RemoteHost('local', new LocalShell(), { hostname: 'local', kernel: { release: 'x', version: [6, 1, 0] } });
    return Object.assign(host, { setFacts: (f: Facts) => void (host.facts = f) }) as unknown as ConnectedHost;
  };
  return runPlaybook(
    book,
    inventory,
    modules,
    connect,
    { check: opts.check, tags: [], skipTags: [], extraVars: {}, forks: 1, secrets: opts.secrets, crossCheckErrors: opts.crossCheckErrors },
    opts.onEvent ?? (() => undefined),
  );
}
