// Runs the xe simulator (test/sim/xe/xe.mjs) as `xe` on this machine for unit tests: a private
// state file and a PATH entry in a temp directory, removed afterwards.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { LocalShell, RemoteHost } from '../../../../src/host.js';
import type { ReadResult } from '../../../../src/module.js';
import { xenserver_vif, type XenserverVifArgs } from '../../../../modules/xenserver_vif.js';

export const SIMULATOR = resolve('test/sim/xe/xe.mjs');
export const SEED_000 = JSON.parse(execFileSync('cat', [resolve('test/sim/xe/seed-000.json')], { encoding: 'utf8' })) as Scenario;

export interface Scenario {
  host?: string;
  workers?: number;
  linux?: string;
  /** free memory of the simulated host */
  memoryFreeMiB?: number;
  /** the other hosts of its pool (host-evacuate moves VMs to them) */
  pool?: { name: string; memoryFreeMiB?: number; enabled?: boolean }[];
  networks: string[];
  vms: {
    name: string;
    power?: string;
    order?: number;
    memoryMiB?: number;
    otherConfig?: Record<string, string>;
    vifs: { network: string; otherConfig?: Record<string, string> }[];
  }[];
}

export function useSimulator(): {
  xe: (...args: string[]) => string;
  xeFails: (...args: string[]) => string;
  seed: (s: Scenario) => void;
  host: () => RemoteHost;
} {
  let dir = '';
  let saved: { path?: string; state?: string; inventory?: string } = {};
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xe-simulator-'));
    symlinkSync(SIMULATOR, join(dir, 'xe'));
    saved = { path: process.env.PATH, state: process.env.XE_SIMULATOR_STATE, inventory: process.env.XE_SIMULATOR_INVENTORY };
    process.env.PATH = `${dir}:${process.env.PATH}`;
    process.env.XE_SIMULATOR_STATE = join(dir, 'state.json');
    // a pool scenario writes the host's xensource-inventory: here, never the machine's /etc
    process.env.XE_SIMULATOR_INVENTORY = join(dir, 'xensource-inventory');
  });
  afterAll(() => {
    process.env.PATH = saved.path;
    if (saved.state === undefined) delete process.env.XE_SIMULATOR_STATE;
    else process.env.XE_SIMULATOR_STATE = saved.state;
    if (saved.inventory === undefined) delete process.env.XE_SIMULATOR_INVENTORY;
    else process.env.XE_SIMULATOR_INVENTORY = saved.inventory;
    rmSync(dir, { recursive: true, force: true });
  });
  const xe = (...args: string[]) => execFileSync(join(dir, 'xe'), args, { encoding: 'utf8' });
  const xeFails = (...args: string[]) => {
    try {
      execFileSync(join(dir, 'xe'), args, { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      const err = e as { status: number; stderr: string };
      if (err.status !== 1) throw e;
      return err.stderr;
    }
    throw new Error(`xe ${args.join(' ')} succeeded`);
  };
  const seed = (s: Scenario) => {
    const file = join(dir, 'scenario.json');
    writeFileSync(file, JSON.stringify(s));
    xe('simulator-seed', `file=${file}`);
  };
  const facts = { hostname: 'xs56', kernel: { release: '2.6.32', version: [2, 6, 32] as [number, number, number] } };
  return { xe, xeFails, seed, host: () => new RemoteHost('xs56', new LocalShell(), facts) };
}

/** read → parse → plan, as the engine does. */
export async function planOn(host: RemoteHost, args: XenserverVifArgs) {
  const ctx = { host: host.name, facts: host.facts };
  const results: ReadResult[] = await host.read(xenserver_vif.read(args, ctx));
  const observed = xenserver_vif.parse(args, results, ctx);
  return { observed, ...xenserver_vif.plan(args, observed, ctx) };
}

/** `simulator-netback` → { "vm/device": worker, "vm@network": worker } for attached VIFs. */
export function workersByVif(report: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of report.split('\n').slice(2)) {
    const [vm, device, network, worker] = line.split(' ');
    if (vm) out[`${vm}/${device}`] = out[`${vm}@${network}`] = Number(worker);
  }
  return out;
}
