// Hosts in inventory order wherever the report lists them, whatever order they finish in; and
// the never tag, as the engine runs tasks. Three hosts over this machine's /bin/sh.

import { describe, expect, it } from 'vitest';
import { loadModules } from '../../../modules/index.js';
import { runPlaybook, type ConnectedHost } from '../../../src/engine/run.js';
import type { RunEvent } from '../../../src/events.js';
import type { Facts } from '../../../src/facts.js';
import { LocalShell, RemoteHost } from '../../../src/host.js';
import { parseInventory } from '../../../src/inventory.js';
import { parsePlaybook } from '../../../src/playbook.js';

const inventory = () =>
  parseInventory(
    // hv1 finishes last, hv3 first
    'all:\n  hosts:\n    hv1: { vars: { delay: "0.6" } }\n    hv2: { vars: { delay: "0.3" } }\n    hv3: { vars: { delay: "0" } }\n',
    'inv.yml',
  );

const connect = async (inv: { name: string }): Promise<ConnectedHost> => {
  const host = new RemoteHost(inv.name, new LocalShell(), { hostname: inv.name, kernel: { release: 'x', version: [6, 1, 0] } });
  return Object.assign(host, { setFacts: (f: Facts) => void (host.facts = f) }) as unknown as ConnectedHost;
};

async function run(tasks: string, opts: { check: boolean; tags?: string[] }) {
  const modules = await loadModules();
  const book = parsePlaybook(`- name: p\n  hosts: all\n  gather_facts: false\n  tasks:\n${tasks}`, 'p.yml', modules);
  const events: RunEvent[] = [];
  const report = await runPlaybook(
    book,
    inventory(),
    modules,
    connect,
    { check: opts.check, tags: opts.tags ?? [], skipTags: [], extraVars: {}, forks: 3 },
    (e) => events.push(e),
  );
  return { report, events };
}

describe('host order', () => {
  it('recap, changes and round trips follow the inventory, not the order hosts finished in', async () => {
    const { report, events } = await run('    - name: wait\n      command: { argv: [sleep, "{{delay}}"] }\n', { check: false });
    const finished = events.filter((e) => e.type === 'host-done').map((e) => (e as { host: string }).host);
    expect(report.failures).toEqual([]);
    expect(finished).toEqual(['hv3', 'hv2', 'hv1']);
    expect(Object.keys(report.recap)).toEqual(['hv1', 'hv2', 'hv3']);
    expect(Object.keys(report.roundTrips)).toEqual(['hv1', 'hv2', 'hv3']);
    expect(report.changes.map((c) => c.host)).toEqual(['hv1', 'hv2', 'hv3']);
  });
});

describe('the never tag', () => {
  const tasks = [
    '    - name: everyday',
    '      command: { argv: ["true"] }',
    '    - name: debug dump',
    '      command: { argv: ["true"] }',
    '      tags: [never, debug]',
    '    - name: always',
    '      command: { argv: ["true"] }',
    '      tags: [always]',
    '',
  ].join('\n');
  const ran = (events: RunEvent[]) => [...new Set(events.filter((e) => e.type === 'task-done').map((e) => (e as { task: string }).task))];

  it('a task tagged never does not run without --tags, nor with --tags all', async () => {
    expect(ran((await run(tasks, { check: true })).events)).toEqual(['everyday', 'always']);
    expect(ran((await run(tasks, { check: true, tags: ['all'] })).events)).toEqual(['everyday', 'always']);
  });

  it('it runs when --tags names one of its tags (or never itself)', async () => {
    expect(ran((await run(tasks, { check: true, tags: ['debug'] })).events)).toEqual(['debug dump', 'always']);
    expect(ran((await run(tasks, { check: true, tags: ['never'] })).events)).toEqual(['debug dump', 'always']);
  });
});
