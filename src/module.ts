// The module contract (DESIGN.md "The module contract"). The engine knows modules only through
// these types; a module never imports the runner.

import type { SourcePosition } from './errors.js';
import type { Facts } from './facts.js';

/** What a change disturbs when it takes effect. */
export type Effect = 'live' | 'persistent' | 'reboot' | 'module-reload' | 'vm-restart' | 'service-restart';

/**
 * A read a module needs. The engine batches every task's requests for a host into one remote
 * round trip, so a module describes reads instead of doing them.
 * - file: the exact bytes of one file, or null if it does not exist.
 * - glob: every regular file matching a shell glob (no user input: patterns come from modules),
 *   as path → content, sorted by path.
 * - cmd: run argv (quoted by the engine) and capture stdout/stderr/exit code.
 * - script: a POSIX sh script; build it with the `sh` tagged template of src/quote.ts so every
 *   interpolation is quoted.
 * - stat: what a path is, by shell builtins, and its mode and owners, one `stat` process for every
 *   stat request of the batch; the result's `state` is modules/lib/file-state.ts's `key=value`
 *   lines (type, empty for a directory, stat).
 * `stable: true` on a cmd/script: no apply of this run changes its output (capabilities, which keys
 * are writable), so the engine never reads it again after an apply.
 * `builtins: true` on a script: it runs only shell builtins, never `exit`s and may clobber plain
 * variables, so the batch runs it in its own shell and it costs the host no process.
 */
export type ReadRequest =
  | { kind: 'file'; path: string }
  | { kind: 'glob'; pattern: string }
  | { kind: 'stat'; path: string }
  | { kind: 'cmd'; argv: string[]; stable?: boolean }
  | { kind: 'script'; script: string; stable?: boolean; builtins?: boolean };

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the command was killed by a signal. */
  code: number | null;
  signal?: string | null;
}

export type ReadResult =
  | { kind: 'file'; path: string; content: string | null }
  | { kind: 'glob'; pattern: string; files: Record<string, string> }
  | { kind: 'stat'; path: string; state: string }
  | ({ kind: 'cmd' | 'script' } & CommandResult);

/** A file change, shown as a unified diff. `before` null = the file does not exist yet. */
export interface FileDiff {
  path: string;
  before: string | null;
  /** null = the file is removed. */
  after: string | null;
}

/** A change is data: what check mode prints is exactly what apply runs. */
export interface Change {
  /** One line for people: "set net.ipv4.tcp_rmem". */
  summary: string;
  /** What is changed: a file path, "sysctl:net.ipv4.tcp_rmem", "domain:vm1/vcpupin/0"… */
  target: string;
  effect: Effect;
  /** Live values before → after (normalised text); absent for pure file changes. */
  before?: string | null;
  after?: string | null;
  diff?: FileDiff;
  /** Advice attached to this change (security trade-offs, dated settings). */
  warnings?: string[];
  /** Module-private instructions for apply; must be JSON-serialisable (saved plans). */
  data?: unknown;
  /**
   * Work to do once per host after all tasks of a play changed things (grub regeneration):
   * the runner groups by `${module}:${id}` and calls that module's `finalize` once.
   */
  finalize?: { id: string; data?: unknown };
  /**
   * Set only where a secret task's change is saved (plans, run records, src/secrets.ts): its
   * values, file contents and data are `<redacted>`, and this is the sha256 of them.
   */
  digest?: string;
}

/** A state the playbook asked for that is persisted but not live yet: not a change, but reported. */
export interface Pending {
  effect: Exclude<Effect, 'live' | 'persistent'>;
  target: string;
  summary: string;
}

export interface PlanResult {
  changes: Change[];
  pending?: Pending[];
  warnings?: string[];
}

export interface PlanContext {
  host: string;
  facts: Facts;
  /**
   * What the host has pending so far in this run (from the tasks before this one): a reboot module
   * plans on it. Absent outside a play.
   */
  pending?: readonly Pending[];
  /**
   * What the task's `peerReads` gave: one entry per peer, in inventory order. Absent where the
   * engine has no inventory to read peers from (a saved plan, a rollback).
   */
  peers?: readonly PeerRead[];
}

/** Another inventory host read for a task at plan time (Module.peerReads). */
export interface PeerRead {
  /** inventory name */
  name: string;
  /** the address hvtune connects to */
  address: string;
  /** the results of the task's peer requests, in order; absent when the peer could not be read */
  results?: ReadResult[];
  /** why the peer could not be reached or read */
  error?: string;
}

/**
 * What a write or remove expects to replace: the sha256 of the content the plan read, or that the
 * file did not exist. Checked on the host right before the rename, so a file changed since it was
 * read (another run, another tool) is refused instead of overwritten from a stale read.
 */
export type FileExpectation = { sha256: string } | { absent: true };

/** What apply gets to change a host. Every method is one remote round trip at most. */
export interface HostHandle {
  readonly name: string;
  readonly facts: Facts;
  /** Run argv; never throws on a non-zero exit (check `code`). */
  exec(argv: string[], opts?: { stdin?: string | Buffer; timeoutMs?: number }): Promise<CommandResult>;
  /**
   * Run a POSIX sh script (built with `sh`); never throws on a non-zero exit. `session`: a quick
   * script whose exit signal and process group do not matter may run in the connection's shell
   * session, one after another with hvtune's own scripts, instead of a channel of its own.
   */
  sh(script: string, opts?: { stdin?: string | Buffer; timeoutMs?: number; session?: boolean }): Promise<CommandResult>;
  /** Like exec, but throws RemoteCommandError on a non-zero exit. */
  run(argv: string[], opts?: { stdin?: string | Buffer; timeoutMs?: number }): Promise<CommandResult>;
  /** Batched reads, same as the engine's read phase. */
  read(requests: ReadRequest[]): Promise<ReadResult[]>;
  /**
   * Write a file atomically (temp file in the same directory, fsync, rename), keeping the
   * previous version under /var/lib/hvtune/backups (`<root><path>@<time>.<pid>`, the last ten)
   * unless backup is false. Creates parent dirs. With `expect`, refuses (StaleWriteError, file
   * untouched) when the file is no longer what it was; the engine fills it in from the change's
   * `diff.before` when a module does not.
   * Returns the backup path if one was made.
   */
  writeFile(
    path: string,
    content: string,
    opts?: { mode?: number; owner?: string; group?: string; backup?: boolean; expect?: FileExpectation },
  ): Promise<{ backup: string | null }>;
  /** Remove a file, keeping a backup unless backup is false; `expect` as for writeFile. */
  removeFile(path: string, opts?: { backup?: boolean; expect?: FileExpectation }): Promise<{ backup: string | null }>;
  /** Restore a backup made by writeFile/removeFile. */
  restoreFile(path: string, backup: string | null): Promise<void>;
  /**
   * Optional: reboot the host with its configured command (inventory `reboot_command`), wait until
   * SSH answers with a new boot id, and go on over the new connection. Throws when the host is not
   * back within `timeoutMs`. Only transports that can reconnect offer it.
   */
  reboot?(opts: { timeoutMs: number }): Promise<{ bootId: string; seconds: number }>;
}

export interface ApplyContext {
  host: HostHandle;
  facts: Facts;
  check: false;
}

/** One setting's three states (DESIGN.md), normalised text; null = not set anywhere / absent. */
export interface SettingState {
  desired: string | null;
  persisted: string | null;
  live: string | null;
}

/** One string of a task's arguments as written in the playbook: a mapping key or a scalar value. */
export interface ArgLeaf {
  /** Path inside the module arguments (`['values', 'net.ipv4.tcp_tw_recycle']`). */
  path: readonly (string | number)[];
  text: string;
  isKey: boolean;
}

/** Dated advice (src/dated.ts) about one argument; `id` names its rule: one warning per rule and argument. */
export interface Advice {
  id: string;
  message: string;
}

/**
 * One task of a host as its plan left it, for cross-checks: the settings of every task are judged
 * together, after each was planned on its own.
 */
export interface CrossTask {
  module: string;
  /** rendered, validated arguments */
  args: unknown;
  /** what the task read on the host; absent offline (`hvtune validate --facts`) */
  observed?: unknown;
  /** the changes its plan makes; empty offline */
  changes: readonly Change[];
  /** the task's name, with its loop item */
  task: string;
  /** where the task is written */
  pos?: SourcePosition;
}

export interface CrossCheckInput {
  host: string;
  facts: Facts;
  /** every planned task of the host so far in the run, in order */
  tasks: readonly CrossTask[];
}

/** A contradiction between settings: an error where the result cannot work (a VM that cannot start). */
export interface CrossProblem {
  severity: 'error' | 'warning';
  message: string;
  /** the task whose setting the rule concerns */
  at: CrossTask;
}

export interface CrossCheckResult {
  problems: CrossProblem[];
  /** what the rule could not judge for lack of a fact or a read (a domain's memory), in words */
  unknown?: string[];
}

/**
 * A rule over the combined desired state of a host (DESIGN "Whole-host view"): it lives beside the
 * module whose setting it concerns, and is listed in that module's `crossChecks`. Pure.
 */
export interface CrossCheck {
  /** short name, shown with each problem: `numatune-hugepages` */
  id: string;
  /** one line for the README and `validate`: what it flags */
  description: string;
  /** it judges what tasks read on the host (live values): offline validate skips it */
  needsObserved?: boolean;
  /**
   * Does this task, as written (templates unrendered), give the rule something that it judges
   * against facts (memory, NUMA nodes, daemons)? Then the engine gathers every fact for its play.
   */
  wantsFacts?(module: string, args: unknown): boolean;
  check(input: CrossCheckInput): CrossCheckResult;
}

export interface Module<Args = any, Observed = any> {
  name: string;
  description: string;
  /** JSON Schema of the arguments, strict (additionalProperties: false). */
  schema: Record<string, unknown>;
  /** Extra validation the schema cannot express; return messages keyed by JSON pointer-ish path. */
  validate?(args: Args): { path: string; message: string }[];
  /** read() looks at facts: the engine then gathers facts before the reads, not with them. */
  readNeedsFacts?: boolean;
  /**
   * read() or plan() use facts beyond `hostname` and `kernel` (topology, NICs, init system): the
   * engine then gathers all facts for the play; otherwise only those two, which cost far less.
   */
  needsFacts?: boolean;
  /**
   * Controller-side inputs (a local template file) turned into plain arguments after rendering,
   * before validation and read. `readFile` resolves paths relative to the playbook.
   */
  resolve?(args: Args, local: { readFile(path: string): string; render(text: string, name: string): string }): Args;
  /**
   * Optional: files on the controller this task reads (a local template), from its arguments as
   * written in the playbook: paths relative to the playbook, leaving out templated ones (`{{`),
   * known only per host. A saved plan records their hashes, so applying it says when one changed. Pure.
   */
  localInputs?(args: Args): string[];
  /**
   * Optional: dated advice about this module's own argument shapes. `hvtune validate` and `play`
   * call it for every key and string value of a task's arguments as written in the playbook (the
   * schema holds except where a `{{ }}` template stands), with `generic`: what the rules that read
   * any text found in it. It returns the advice for that argument: `generic`, less (a removal, a
   * regexp that finds the dated line), or more (a shape only this module knows, as the value of a
   * queue/scheduler attribute). Without it `generic` stands. Pure.
   */
  advise?(leaf: ArgLeaf, args: Args, generic: Advice[]): Advice[];
  /**
   * Optional: reads on other inventory hosts this task plans on (a reboot that migrates domains
   * needs the free memory of the hosts that may receive them): a host pattern and the requests to
   * run on each host it matches — never this host nor a host of its batch, which change at the same
   * time. The engine reads them over the run's own connections when the task plans (not with the
   * batch: an earlier batch may have changed them) and passes them as `ctx.peers`. Null: no peer is
   * needed (nothing to move), and none is connected. Pure.
   */
  peerReads?(args: Args, ctx: PlanContext): { pattern: string; requests: ReadRequest[] } | null;
  /** Reads this task needs: pure, no I/O. */
  read(args: Args, ctx: PlanContext): ReadRequest[];
  /** Turn raw results (same order as read's requests) into typed observations: pure. */
  parse(args: Args, results: ReadResult[], ctx: PlanContext): Observed;
  /** Desired vs observed → changes: pure. Throws TaskError for impossible requests. */
  plan(args: Args, observed: Observed, ctx: PlanContext): PlanResult;
  /** Make the changes, read them back, throw ApplyVerifyError on a mismatch. */
  apply(changes: Change[], host: HostHandle, args: Args): Promise<void>;
  /**
   * Optional: applying this module's change makes the host's pending items of these effects live
   * (a reboot: pending reboots and module reloads). The engine then clears them and reads the
   * host's earlier tasks again: one still pending fails this task.
   */
  resolvesPending?: Pending['effect'][];
  /** Once-per-host work after a play (see Change.finalize). Throw to fail the host. */
  finalize?(id: string, items: { change: Change; data?: unknown }[], host: HostHandle): Promise<void>;
  /**
   * Optional: every setting this task manages, name → desired/persisted/live, for `hvtune snapshot`
   * and `drift`: pure. Without it the engine falls back to the plan's changes and the Observed.
   */
  snapshot?(args: Args, observed: Observed): Record<string, SettingState>;
  /**
   * Optional: the change that puts an applied change's `before` back (apply runs it with the same
   * args), for `hvtune rollback`: pure. Null when this module cannot undo it; file diffs without a
   * finalize are restored by the engine itself.
   */
  restore?(change: Change, args: Args): Change | null;
  /** Optional: rules over the host's combined desired state that concern this module's settings. */
  crossChecks?: CrossCheck[];
}
