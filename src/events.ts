// Engine events: one discriminated union that output/ renders (listr2, plain, JSON). The runner
// never prints.

import type { Effect, Pending } from './module.js';
import type { Facts } from './facts.js';
import type { PlannedTask } from './engine/types.js';
import type { CrossCheckRecord } from './engine/cross-checks.js';

export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped';

/** One change as reported: what check mode would do, or what apply did. */
export interface ChangeRecord {
  host: string;
  task: string;
  module: string;
  summary: string;
  target: string;
  effect: Effect;
  before: string | null;
  after: string | null;
  /** unified diff text of a file change, or null */
  diff: string | null;
  warnings: string[];
}

export interface PendingRecord extends Pending {
  host: string;
  task: string;
  module: string;
}

export interface HostRecap {
  /** successful tasks, changed ones included (Ansible's meaning) */
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: boolean;
  pending: Pending[];
  /** the batch (1-based) the host ran in, when its play has `serial` */
  batch?: number;
}

export interface FailureRecord {
  host: string;
  task: string | null;
  message: string;
}

/**
 * What the engine tells as it runs. `id` numbers a host's task instances: a task's `task-planned`,
 * `task-start` and `task-done` carry the same one.
 */
export type RunEvent =
  | {
      type: 'play-start';
      play: string;
      index: number;
      hosts: string[];
      check: boolean;
      /** the hosts by batch, when the play has `serial` */
      batches?: string[][];
    }
  | { type: 'batch-start'; play: string; batch: number; of: number; hosts: string[] }
  /** No further host or play runs: a failure threshold was crossed. */
  | { type: 'run-stopped'; reason: string; untouched: string[] }
  | { type: 'host-start'; host: string; batch?: number }
  | { type: 'task-start'; host: string; id: number; task: string; module: string }
  | {
      /** A task's plan, before it is applied: saved plans, snapshots, drift and run records read it. */
      type: 'task-planned';
      host: string;
      id: number;
      planned: PlannedTask;
      observed: unknown;
      facts: Facts;
    }
  | {
      type: 'task-done';
      host: string;
      id: number;
      task: string;
      module: string;
      status: TaskStatus;
      changes: ChangeRecord[];
      pending: PendingRecord[];
      /** the plan's own warnings (each change carries its own too) */
      warnings: string[];
      error?: string;
      /** why a skipped task was skipped */
      reason?: string;
      handler: boolean;
    }
  /** A change made the host's pending items of these effects live (a reboot): they are no longer pending. */
  | { type: 'pending-cleared'; host: string; effects: Pending['effect'][] }
  /**
   * A later task of the play undid the file change that made a task's item pending (a grub argument
   * added, then removed): persisted and live agree again, so the item is no longer pending.
   */
  | { type: 'pending-retracted'; host: string; task: string; effect: Pending['effect']; target: string }
  | { type: 'host-unreachable'; host: string; error: string }
  /** The host failed outside any task (its play vars, a lost connection): it takes no further part. */
  | { type: 'host-failed'; host: string; error: string }
  | {
      type: 'host-done';
      host: string;
      /** ssh exec calls of the run, when the host was reached */
      roundTrips?: number;
      /** the play stopped before its end on this host (any_errors_fatal elsewhere, an interrupt) */
      stopped?: true;
    }
  | { type: 'play-end'; play: string }
  | { type: 'warning'; message: string }
  /** A contradiction between the host's planned settings (src/engine/cross-checks.ts); an error fails the host. */
  | ({ type: 'cross-check' } & CrossCheckRecord)
  | { type: 'run-end'; report: RunReport };

export interface RunReport {
  check: boolean;
  recap: Record<string, HostRecap>;
  changes: ChangeRecord[];
  pending: PendingRecord[];
  failures: FailureRecord[];
  warnings: string[];
  /** contradictions between each host's planned settings (warnings are in `warnings` too) */
  crossChecks: CrossCheckRecord[];
  /** remote round trips (ssh exec calls) per host, connection set-up excluded */
  roundTrips: Record<string, number>;
  /** why the run stopped before every host ran (max_fail_percentage, any_errors_fatal), or null */
  stopped: string | null;
  /** hosts a play selected that the stop left never touched */
  untouched: string[];
  durationMs: number;
  /** the counts of the closing line ("Plan: 12 changes on 3 of 40 hosts, …"), set when the run ends */
  summary: RunSummary;
}

/** A run in a few numbers, as Terraform closes a plan. */
export interface RunSummary {
  check: boolean;
  /** hosts the run worked on (reached or not) */
  hosts: number;
  changes: number;
  /** hosts with at least one change */
  changedHosts: number;
  /** hosts with a reboot pending (a host reboots once, whatever needs it) */
  pendingReboots: number;
  /** other pending items, one by one: module reloads, VM restarts, service restarts */
  pendingOther: Partial<Record<Exclude<Pending['effect'], 'reboot'>, number>>;
  /** hosts with a failed task or that failed outside any task (unreachable ones excluded) */
  failedHosts: number;
  failedTasks: number;
  unreachable: number;
}

/** 0 nothing left to change; 2 check mode with changes pending; 1 any failure or unreachable host. */
export function exitCode(report: RunReport): 0 | 1 | 2 {
  const hosts = Object.values(report.recap);
  if (hosts.some((h) => h.failed > 0 || h.unreachable)) return 1;
  if (report.check && report.changes.length > 0) return 2;
  return 0;
}
