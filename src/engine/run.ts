// The runner: plays in order, hosts in parallel (bounded by forks), each play on a host by a
// HostRun. Per host: connect once, gather facts once (as far as a play needs them), read, plan,
// apply. It emits events; the report is their fold; it never prints.

import type { Module } from '../module.js';
import type { RunEvent, RunReport } from '../events.js';
import type { Inventory } from '../inventory.js';
import type { Playbook } from '../playbook.js';
import { FACTS_SCRIPT, parseFacts, type Facts } from '../facts.js';
import { HvtuneError } from '../errors.js';
import { selectHosts, selectLimit } from '../patterns.js';
import { errorMessage } from './errors.js';
import { factsNeed, tasksUsingRegistered } from './facts-need.js';
import { HostRun, type HostRunOptions } from './host-run.js';
import { forEachLimited } from './limit.js';
import { emptyReport, foldReport } from './report.js';
import type { ConnectedHost, Connector } from './types.js';

export type { ConnectedHost, Connector };

export interface RunOptions extends HostRunOptions {
  limit?: string;
  forks: number;
  /** facts to use instead of gathering, host → facts */
  factsOverride?: Record<string, Facts>;
  /**
   * Take the host's lock (runs that change hosts): settles once held, rejects naming the holder.
   * Started as soon as the host is connected; the lock lasts as long as the connection.
   */
  lock?: (host: ConnectedHost) => Promise<void>;
}

/** Facts known of a host so far in the run. */
interface KnownFacts {
  facts: Facts;
  full: boolean;
}

export async function runPlaybook(
  playbook: Playbook,
  inventory: Inventory,
  modules: ReadonlyMap<string, Module>,
  connect: Connector,
  opts: RunOptions,
  emit: (e: RunEvent) => void,
): Promise<RunReport> {
  const started = Date.now();
  const report = emptyReport(opts.check);
  const send = (e: RunEvent) => {
    foldReport(report, e);
    emit(e);
  };
  const limited = opts.limit ? new Set(selectLimit(inventory, opts.limit)) : null;
  const connections = new Map<string, Promise<ConnectedHost>>();
  const locks = new Map<string, Promise<void>>();
  const known = new Map<string, KnownFacts>();
  const ids = new Map<string, number>();
  const nextId = (host: string) => () => {
    const id = (ids.get(host) ?? 0) + 1;
    ids.set(host, id);
    return id;
  };
  const dead = new Set<string>(); // failed or unreachable: skip in later plays, like Ansible

  try {
    for (const [index, play] of playbook.plays.entries()) {
      const need = factsNeed(play, modules);
      const deferred = tasksUsingRegistered(play);
      const hosts = selectHosts(inventory, play.hosts).filter((h) => !limited || limited.has(h));
      if (hosts.length === 0) send({ type: 'warning', message: `play "${play.name}": no hosts match "${play.hosts}"` });
      send({ type: 'play-start', play: play.name, index, hosts, check: opts.check });
      await forEachLimited(hosts, opts.forks, async (name) => {
        if (dead.has(name)) return;
        if (!(await runHost(name))) dead.add(name);
      });
      send({ type: 'play-end', play: play.name });

      async function runHost(name: string): Promise<boolean> {
        const invHost = inventory.hosts.get(name)!;
        send({ type: 'host-start', host: name });
        let host: ConnectedHost;
        let facts: Facts;
        let gather: 'kernel' | 'full' | null = null;
        try {
          if (!connections.has(name)) connections.set(name, connect(invHost));
          host = await connections.get(name)!;
          if (opts.lock && !locks.has(name)) {
            const held = opts.lock(host);
            held.catch(() => undefined); // awaited by the host's run; not an unhandled rejection meanwhile
            locks.set(name, held);
          }
          const saved = opts.factsOverride?.[name];
          if (saved) known.set(name, { facts: saved, full: true });
          const have = known.get(name);
          if (need.level === 'none' || (have && (have.full || need.level === 'kernel'))) {
            facts = have?.facts ?? minimalFacts(name);
          } else if (need.beforeReads) {
            facts = await gatherFacts(host);
            known.set(name, { facts, full: true });
          } else {
            // gathered with the first batch of reads: one round trip fewer
            facts = have?.facts ?? minimalFacts(name);
            gather = need.level;
          }
          host.setFacts(facts);
        } catch (err) {
          send({ type: 'host-unreachable', host: name, error: errorMessage(err) });
          send({ type: 'host-done', host: name });
          return false;
        }
        let ok: boolean;
        try {
          const run = new HostRun(
            { play, index, facts, gather, deferred, ready: locks.get(name) },
            invHost,
            host,
            modules,
            opts,
            send,
            nextId(name),
          );
          ok = await run.runPlay();
          if (run.gathered) known.set(name, { facts: run.facts, full: run.gathered === 'full' });
        } catch (err) {
          // a lost connection or an engine fault: this host fails, the others go on
          send({ type: 'host-failed', host: name, error: errorMessage(err) });
          ok = false;
        }
        send({ type: 'host-done', host: name, roundTrips: host.roundTrips });
        return ok;
      }
    }
  } finally {
    await Promise.all([...connections.values()].map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }
  report.durationMs = Date.now() - started;
  send({ type: 'run-end', report });
  return report;
}

async function gatherFacts(host: ConnectedHost): Promise<Facts> {
  const r = await host.sh(FACTS_SCRIPT);
  if (r.code !== 0) throw new HvtuneError(`${host.name}: gathering facts failed (exit ${r.code}): ${r.stderr.trim()}`);
  return parseFacts(r.stdout);
}

function minimalFacts(name: string): Facts {
  return { hostname: name, kernel: { release: 'unknown', version: [0, 0, 0] } };
}
