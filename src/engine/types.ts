// What the engine passes between its stages. One type describes a planned task everywhere: the
// runner plans them, saved plans and run records keep them, `apply` and `rollback` run them.

import type { Change, HostHandle, Module, Pending, PlanResult } from '../module.js';
import type { Facts } from '../facts.js';
import type { InventoryHost } from '../inventory.js';

/** One task instance as planned on one host. JSON-serialisable: saved plans and run records hold it. */
export interface PlannedTask {
  /** index of the play in the playbook: finalizers and handlers run per play */
  play: number;
  /** the task's name, with its loop item when it has one */
  task: string;
  module: string;
  handler: boolean;
  /** rendered, validated arguments */
  args: unknown;
  /**
   * A rollback task: `changes` put back what a run changed, and apply checks that planning `args`
   * now changes none of their targets (the host is still as that run left it).
   */
  restore?: boolean;
  /**
   * `secret: true`, or its rendered args hold a secret value (src/secrets.ts): plans and records keep
   * its changes sealed (digests, no content).
   */
  secret?: boolean;
  changes: Change[];
  pending: Pending[];
}

/** A task to read and plan on a host: its module and rendered args. */
export interface TaskInput {
  module: Module;
  args: unknown;
  /**
   * A rollback task's changes: the files they write are what later tasks see (instead of the
   * changes planning `args` gives).
   */
  restore?: Change[];
}

/** What planning one task gave: the module's observation and plan, or why it could not plan. */
export type TaskPlan = { observed: unknown; result: PlanResult } | { error: string };

/** How the runner reaches a host: the CLI passes the SSH transport, tests may pass others. */
export type Connector = (host: InventoryHost) => Promise<ConnectedHost>;
export interface ConnectedHost extends HostHandle {
  /** ssh exec calls so far */
  readonly roundTrips: number;
  close(): Promise<void>;
  setFacts(facts: Facts): void;
}
