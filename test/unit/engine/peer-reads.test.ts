// Module.peerReads: a task reads other inventory hosts when it plans (a reboot that migrates needs
// its peers' free memory). The engine reads the pattern's hosts but never the host itself nor a
// host of its batch (they change at the same time), over the run's one connection per host. The
// hosts are this machine's /bin/sh under several inventory names; the module is test input.

import { describe, expect, it } from 'vitest';
import { LocalShell, RemoteHost } from '../../../src/host.js';
import { parseInventory } from '../../../src/inventory.js';
import type { Module } from '../../../src/module.js';
import { parsePlaybook } from '../../../src/playbook.js';
import { runPlaybook, type ConnectedHost } from '../../../src/engine/run.js';
import type { Facts } from '../../../src/facts.js';

/** Plans one change whose summary lists the peers it was given and what each answered. */
const peersOf: Module<{ pattern: string }, string> = {
  name: 'peers_of',
  description: 'names the peers the engine read for it',
  schema: { type: 'object', additionalProperties: false, required: ['pattern'], properties: { pattern: { type: 'string' } } },
  // an empty pattern: this task needs no peer
  peerReads: (args) => (args.pattern ? { pattern: args.pattern, requests: [{ kind: 'cmd', argv: ['echo', 'room'] }] } : null),
  read: () => [],
  parse: (_args, _results, ctx) =>
    ctx.peers === undefined
      ? 'none given'
      : ctx.peers.map((p) => `${p.name}=${p.results?.[0] && 'stdout' in p.results[0] ? p.results[0].stdout.trim() : p.error}`).join(' '),
  plan: (_args, observed) => ({ changes: [{ summary: observed, target: 'peers', effect: 'live' }] }),
  apply: async () => undefined,
};
const modules = new Map<string, Module>([['peers_of', peersOf]]);

async function runOn(serial: string, pattern: string, down: string[] = []) {
  const book = parsePlaybook(
    `- name: p\n  hosts: "all:!spare"\n  gather_facts: false\n  ${serial}\n  tasks:\n    - peers_of: { pattern: "${pattern}" }\n`,
    'p.yml',
    modules,
  );
  const inventory = parseInventory(
    `all:\n  hosts:\n${['hv1', 'hv2', 'hv3', 'hv4'].map((h) => `    ${h}: {}\n`).join('')}  children:\n    spare:\n      hosts: { hv5: {} }\n`,
    'inv.yml',
  );
  const connected: string[] = [];
  const connect = async (inv: { name: string }): Promise<ConnectedHost> => {
    connected.push(inv.name);
    if (down.includes(inv.name)) throw new Error(`${inv.name}: connection refused`);
    const host = new RemoteHost(inv.name, new LocalShell(), { hostname: inv.name, kernel: { release: 'x', version: [6, 1, 0] } });
    return Object.assign(host, { setFacts: (f: Facts) => void (host.facts = f) }) as unknown as ConnectedHost;
  };
  const report = await runPlaybook(
    book,
    inventory,
    modules,
    connect,
    { check: true, tags: [], skipTags: [], extraVars: {}, forks: 2 },
    () => undefined,
  );
  const seen = Object.fromEntries(report.changes.map((c) => [c.host, c.summary]));
  return { seen, connected };
}

describe('peer reads', () => {
  it('serial: 2 — each host reads the pattern minus itself and its batch, each peer over one connection for the run', async () => {
    const { seen, connected } = await runOn('serial: 2', 'all');
    expect(seen).toEqual({
      hv1: 'hv3=room hv4=room hv5=room',
      hv2: 'hv3=room hv4=room hv5=room',
      hv3: 'hv1=room hv2=room hv5=room',
      hv4: 'hv1=room hv2=room hv5=room',
    });
    expect([...connected].sort()).toEqual(['hv1', 'hv2', 'hv3', 'hv4', 'hv5']);
  });

  it('no serial: the whole play is one batch, so only hosts outside the play are peers', async () => {
    const { seen } = await runOn('serial: 100%', 'all');
    expect(seen.hv1).toBe('hv5=room');
  });

  it('a task that needs no peer (peerReads gives null): none is connected', async () => {
    const { seen, connected } = await runOn('serial: 2', '');
    expect(seen.hv1).toBe('none given');
    expect([...connected].sort()).toEqual(['hv1', 'hv2', 'hv3', 'hv4']);
  });

  it('a peer that cannot be reached is given with the reason, not left out', async () => {
    const { seen } = await runOn('serial: 2', 'spare', ['hv5']);
    expect(seen.hv1).toBe('hv5=hv5: connection refused');
  });
});
