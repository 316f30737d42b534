// The facts command's own logic (host selection, save/load, output); gathering over real SSH is
// in test/lab/facts.test.ts.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { factsCommand } from '../../../src/commands/facts.js';
import { loadFactsFile } from '../../../src/facts/saved.js';
import { formatFacts } from '../../../src/output/facts.js';
import type { Facts } from '../../../src/facts.js';
import { parseInventory } from '../../../src/inventory.js';
import { recorded } from '../topology/load.js';

const dir = mkdtempSync(join(tmpdir(), 'hvtune-facts-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inventory = parseInventory(
  'all:\n  children:\n    kvm:\n      hosts:\n        zs1: { address: 192.0.2.10 }\n        epyc: { address: 192.0.2.11 }\n        gone: { address: 192.0.2.12 }\n',
  'inv.yml',
);
const byHost: Record<string, Facts> = { zs1: recorded('seed003-2s10c-ht'), epyc: recorded('amd-epyc-nps4') };
const connect = async (h: { name: string }) => {
  if (!byHost[h.name]) throw new Error(`${h.name}: connection refused (nothing listens on that port)`);
  return { facts: byHost[h.name], close: async () => undefined };
};

describe('hvtune facts', () => {
  it('prints a summary per host, the unreachable ones on stderr, and exits 1 if any failed', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const r = await factsCommand({ inventory, connect, out: (s) => out.push(s), err: (s) => err.push(s) });
    expect(r.code).toBe(1);
    expect(Object.keys(r.hosts)).toEqual(['zs1', 'epyc']);
    expect(out.join('\n')).toContain('zs1: zs-compute1 · Rocky Linux 8.9 (Green Obsidian) · kernel 4.18.0-513.el8.x86_64');
    expect(out.join('\n')).toContain('2 socket(s) × 10 cores × 2 thread(s), HT on');
    expect(out.join('\n')).toContain('node1    cpus 10-19,30-39');
    expect(out.join('\n')).toContain('ens1f0: i40e · 0000:3b:00.0');
    expect(err).toEqual(['gone: UNREACHABLE: gone: connection refused (nothing listens on that port)']);
  });

  it('--limit, --json and --save; the saved file loads for --facts', async () => {
    const out: string[] = [];
    const save = join(dir, 'facts.json');
    const r = await factsCommand({ inventory, limit: 'zs1', connect, json: true, save, out: (s) => out.push(s) });
    expect(r.code).toBe(0);
    expect(JSON.parse(out.join('')).hosts.zs1.cpu.sockets).toBe(2);
    expect(JSON.parse(readFileSync(save, 'utf8'))).toMatchObject({ format: 'hvtune-facts', version: 1 });
    expect(await loadFactsFile(save)).toEqual({ zs1: byHost.zs1 });
  });

  it('rejects a limit that matches nothing', async () => {
    await expect(factsCommand({ inventory, limit: 'nope*', connect, out: () => undefined })).rejects.toThrow(
      /no host of inv.yml matches "nope\*"/,
    );
  });
});

describe('loadFactsFile', () => {
  const file = (name: string, content: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
    return p;
  };

  it('accepts a bare host map with only the release, and derives the kernel version', async () => {
    const p = file('bare.json', { hv9: { hostname: 'hv9', kernel: { release: '5.15.0-91-generic' } } });
    expect((await loadFactsFile(p)).hv9.kernel).toEqual({ release: '5.15.0-91-generic', version: [5, 15, 0] });
  });

  it.each([
    ['notjson.json', '{oops', 'cannot read saved facts'],
    ['array.json', [1], 'expected a JSON object of saved facts'],
    ['nohostname.json', { hosts: { hv1: { kernel: { release: '6.1' } } } }, 'host "hv1": "hostname" must be a string'],
    ['nokernel.json', { hosts: { hv1: { hostname: 'hv1' } } }, 'host "hv1": "kernel.release" must be a string'],
    ['badnics.json', { hosts: { hv1: { hostname: 'hv1', kernel: { release: '6.1' }, nics: {} } } }, '"nics" must be a list'],
    ['empty.json', { hosts: {} }, 'no host facts in the file'],
  ])('%s is refused with a message naming the problem', async (name, content, message) => {
    await expect(loadFactsFile(file(name, content))).rejects.toThrow(message);
  });
});

it('formatFacts says when libvirt did not answer', () => {
  const f = recorded('one-socket-ht');
  expect(formatFacts('edge1', { ...f, domains: null })).toContain('domains  libvirt did not answer');
});
