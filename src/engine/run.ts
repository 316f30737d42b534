// The runner: plays in order, hosts in parallel (bounded by forks), each play on a host by a
// HostRun. Per host: connect once, gather facts once (as far as a play needs them), read, plan,
// apply. It emits events; the report is their fold; it never prints.

import type { Module, PeerRead, ReadRequest } from '../module.js';
import type { RunEvent, RunReport } from '../events.js';
import type { Inventory } from '../inventory.js';
import type { Playbook } from '../playbook.js';
import { FACTS_SCRIPT, parseFacts, type Facts } from '../facts.js';
import { HvtuneError } from '../errors.js';
import { selectHosts, selectLimit } from '../patterns.js';
import { errorMessage } from './errors.js';
import { batchesOf, exceedsFailPercentage } from './batches.js';
import { factsNeed, tasksUsingRegistered } from './facts-need.js';
import { HostRun, type HostRunOptions, type HostRunPlan } from './host-run.js';
import { forEachLimited } from './limit.js';
import { inShard, type Shard } from './shard.js';
import { emptyReport, foldReport, hostSettler, inHostOrder, summarize } from './report.js';
import type { ConnectedHost, Connector } from './types.js';

export type { ConnectedHost, Connector };

export interface RunOptions extends HostRunOptions {
  limit?: string;
  /** only the hosts of this slice (`--shard K/N`) */
  shard?: Shard;
  forks: number;
  /** facts to use instead of gathering, host → facts */
  factsOverride?: Record<string, Facts>;
  /**
   * Take the host's lock (runs that change hosts): settles once held, rejects naming the holder.
   * Started as soon as the host is connected; the lock lasts as long as the connection.
   */
  lock?: (host: ConnectedHost) => Promise<void>;
  /** hosts left out of every play (`play --resume`: those an earlier run finished) */
  skip?: ReadonlySet<string>;
  /**
   * What the report keeps of a file change's diff once its host is done: its text (the default:
   * `--json` prints it at the end), or nothing (renderers showed it as the task ended). Either way
   * the files' contents it was computed from are let go.
   */
  diffs?: 'keep' | 'drop';
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
  const settle = hostSettler(report, opts.diffs ?? 'keep');
  const send = (e: RunEvent) => {
    foldReport(report, e);
    settle(e);
    emit(e);
  };
  const limited = opts.limit ? new Set(selectLimit(inventory, opts.limit)) : null;
  const connections = new Map<string, Promise<ConnectedHost>>();
  const locks = new Map<string, Promise<void>>();
  const pendingOf = new Map<string, HostRunPlan['pending']>();
  const historyOf = new Map<string, HostRunPlan['history']>();
  const crossOf = new Map<string, NonNullable<HostRunPlan['cross']>>();
  const known = new Map<string, KnownFacts>();
  const ids = new Map<string, number>();
  const nextId = (host: string) => () => {
    const id = (ids.get(host) ?? 0) + 1;
    ids.set(host, id);
    return id;
  };
  const dead = new Set<string>(); // failed or unreachable: skip in later plays, like Ansible

  /**
   * A task's peers (Module.peerReads): the pattern's hosts but `busy` (the host itself and its batch,
   * which change at the same time), read over the run's connections — a peer connected here is the
   * same connection its own turn uses later, and is closed with the others at the end.
   */
  const readPeers = (pattern: string, requests: ReadRequest[], busy: readonly string[]): Promise<PeerRead[]> =>
    Promise.all(
      selectHosts(inventory, pattern)
        .filter((h) => !busy.includes(h))
        .map(async (name): Promise<PeerRead> => {
          const invHost = inventory.hosts.get(name)!;
          const address = invHost.connection.address;
          try {
            if (!connections.has(name)) connections.set(name, connect(invHost));
            const peer = await connections.get(name)!;
            return { name, address, results: await peer.read(requests) };
          } catch (err) {
            return { name, address, error: errorMessage(err) };
          }
        }),
    );

  let stopped: string | null = null;
  const untouched: string[] = [];
  const startedHosts = new Set<string>();
  /** An interrupt (SIGINT/SIGTERM) stops the run as a failure threshold does: nothing new starts. */
  const interrupted = () => {
    if (opts.signal?.aborted) stopped ??= `interrupted by ${String(opts.signal.reason)}`;
    return stopped !== null;
  };

  const selectedBy = playbook.plays.map((play) =>
    selectHosts(inventory, play.hosts).filter((h) => (!limited || limited.has(h)) && !opts.skip?.has(h) && inShard(h, opts.shard)),
  );
  /** The last play each host is in: its connection (and lock) ends with it, not with the run. */
  const lastPlayOf = new Map<string, number>();
  selectedBy.forEach((hosts, index) => {
    for (const h of hosts) lastPlayOf.set(h, index);
  });
  /**
   * A host that is done (its last play, or failed) lets go of its connection at once: a fleet run
   * keeps no SSH session, buffers or host state of hosts it has finished, so its memory follows the
   * hosts in flight, not the fleet. Unless a task reads peers (a reboot that migrates): a finished
   * host may be a later host's peer, read over its one connection of the run.
   */
  const readsPeers = playbook.plays.some((p) => [...p.tasks, ...p.handlers].some((t) => modules.get(t.module)?.peerReads));
  const done = async (name: string) => {
    for (const perHost of [pendingOf, historyOf, crossOf, known, ids]) perHost.delete(name);
    if (readsPeers) return;
    const connection = connections.get(name);
    connections.delete(name);
    locks.delete(name);
    await connection?.then((c) => c.close()).catch(() => undefined);
  };

  try {
    for (const [index, play] of playbook.plays.entries()) {
      const selected = selectedBy[index];
      if (interrupted()) {
        untouched.push(...selected.filter((h) => !dead.has(h)));
        continue;
      }
      const need = factsNeed(play, modules);
      const deferred = tasksUsingRegistered(play);
      const hosts = selected.filter((h) => !dead.has(h));
      const batches = batchesOf(hosts, play.serial);
      if (selected.length === 0) send({ type: 'warning', message: `play "${play.name}": no hosts match "${play.hosts}"` });
      send({ type: 'play-start', play: play.name, index, hosts: selected, check: opts.check, ...(play.serial ? { batches } : {}) });
      for (const [b, batch] of batches.entries()) {
        if (interrupted()) {
          untouched.push(...batch);
          continue;
        }
        if (play.serial) send({ type: 'batch-start', play: play.name, batch: b + 1, of: batches.length, hosts: batch });
        const halt = play.anyErrorsFatal ? { reason: null } : undefined;
        await forEachLimited(batch, opts.forks, async (name) => {
          if (opts.signal?.aborted) return void untouched.push(name); // no new host once interrupted
          if (!(await runHost(name, play.serial ? b + 1 : undefined, halt, batch))) dead.add(name);
          if (dead.has(name) || lastPlayOf.get(name) === index) await done(name);
        });
        const failed = batch.filter((h) => dead.has(h));
        // Ansible's rules: more than max_fail_percentage of the batch, any failure with
        // any_errors_fatal, or (between batches) every host of one; an interrupt's reason stands
        if (interrupted()) continue;
        if (exceedsFailPercentage(failed.length, batch.length, play.maxFailPercentage)) {
          stopped = `play "${play.name}": ${failed.length} of ${batch.length} host(s) of batch ${b + 1} failed (${failed.join(', ')}), more than max_fail_percentage ${play.maxFailPercentage}`;
        } else if (halt?.reason) {
          stopped = `play "${play.name}": ${halt.reason}`;
        } else if (batches.length > 1 && failed.length === batch.length) {
          stopped = `play "${play.name}": every host of batch ${b + 1} failed (${failed.join(', ')})`;
        }
      }
      send({ type: 'play-end', play: play.name });

      async function runHost(
        name: string,
        batch: number | undefined,
        halt: { reason: string | null } | undefined,
        batchHosts: readonly string[],
      ): Promise<boolean> {
        const invHost = inventory.hosts.get(name)!;
        startedHosts.add(name);
        send({ type: 'host-start', host: name, ...(batch !== undefined ? { batch } : {}) });
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
          if (halt && halt.reason === null) halt.reason = `${name} is unreachable (any_errors_fatal)`;
          return false;
        }
        let ok: boolean;
        let stoppedEarly = false;
        try {
          const run = new HostRun(
            {
              play,
              index,
              facts,
              gather,
              deferred,
              ready: locks.get(name),
              halt,
              pending: pendingOf.get(name) ?? pendingOf.set(name, []).get(name)!,
              history: historyOf.get(name) ?? historyOf.set(name, []).get(name)!,
              cross: crossOf.get(name) ?? crossOf.set(name, { tasks: [], reported: new Set() }).get(name)!,
              readPeers: (pattern, requests) => readPeers(pattern, requests, [name, ...batchHosts]),
            },
            invHost,
            host,
            modules,
            opts,
            send,
            nextId(name),
          );
          ok = await run.runPlay();
          stoppedEarly = run.wasStopped;
          if (run.gathered) known.set(name, { facts: run.facts, full: run.gathered === 'full' });
        } catch (err) {
          // a lost connection or an engine fault: this host fails, the others go on
          send({ type: 'host-failed', host: name, error: errorMessage(err) });
          if (halt && halt.reason === null) halt.reason = `${name} failed (any_errors_fatal)`;
          ok = false;
        }
        send({ type: 'host-done', host: name, roundTrips: host.roundTrips, ...(stoppedEarly ? { stopped: true as const } : {}) });
        return ok;
      }
    }
    interrupted();
    if (stopped) send({ type: 'run-stopped', reason: stopped, untouched: [...new Set(untouched)].filter((h) => !startedHosts.has(h)) });
  } finally {
    await Promise.all([...connections.values()].map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }
  report.durationMs = Date.now() - started;
  inHostOrder(report, [...inventory.hosts.keys()]);
  report.summary = summarize(report);
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
