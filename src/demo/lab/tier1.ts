// The tier-1 lab (LAB.md) that `hvtune demo` builds and the lab tests use: light hosts made of
// namespaces, an overlay of / and a real sshd, created concurrently, torn down by PID even when
// the run fails or is interrupted.
//
// Hosts share the machine's kernel: a real reboot, poweroff or halt never runs in one. A host may
// opt in to a stand-in for reboot instead (reboot-stand-in.ts): its command ends the host's init,
// and the harness starts the host again on the same upper dir and netns with a new boot id. Only an
// init that ended because the stand-in was asked for is restarted; stopHost and destroy end hosts
// for good, also one in the middle of a restart.

import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createNetwork,
  forkedChildPid,
  generateKey,
  HOST_ENV,
  hostPaths,
  mustRun,
  nsenterArgv,
  prepareUpper,
  run,
  running,
  startInit,
  waitForSsh,
  type Bind,
  type RunResult,
} from './host.js';
import { renderInventory, renderKnownHosts } from './client-files.js';
import { allocateSubnets, netnsName, reserveLabId, WORK_ROOT } from './names.js';
import {
  BOOT_ID_PATH,
  DEFAULT_REBOOT_DELAY_MS,
  REBOOT_STAND_IN_PATH,
  REBOOT_STAND_IN_SCRIPT,
  clearRebootRequest,
  rebootRequested,
} from './reboot-stand-in.js';
import {
  ipBatchSync,
  killHost,
  LAB_DIR_TAG,
  networkRemoval,
  processStartTime,
  registerLab,
  teardownSync,
  writeMarker,
  type HostState,
  type LabState,
} from './registry.js';

export interface LabHost {
  name: string; // inventory name: 'hv1', 'hv2', …
  address: string; // host-side IP, reachable from the root namespace
  port: number; // 22
  netns: string; // namespace name
  pid: number; // PID (root pid namespace) of the process whose death ends the host; a stand-in reboot changes it
  upper: string; // the overlay upper dir (files written here appear in the host's /)
  hostKeyPublic: string; // "ssh-ed25519 AAAA…"
}

/** Milliseconds spent creating one host. */
export interface HostTiming {
  /** netns + veth + addresses, upper layer and host key (run concurrently). */
  setup: number;
  /** From spawning the init until sshd answers with its banner. */
  sshReady: number;
  total: number;
}

/** Milliseconds of one stand-in reboot. */
export interface RebootTiming {
  /** From the old init's end until the new sshd answers (the delay included). */
  down: number;
  /** From spawning the new init until sshd answers. */
  sshReady: number;
}

export interface SpawnedProcess {
  pid: number;
  stop(): Promise<void>;
}

export interface Lab {
  id: string;
  dir: string;
  hosts: LabHost[];
  keyPath: string;
  knownHostsPath: string;
  inventoryPath: string;
  /** Creation time of each host, by name. */
  timings: Record<string, HostTiming>;
  /** Each stand-in reboot of a host, by name, in order. */
  reboots: Record<string, RebootTiming[]>;
  /**
   * argv of the reboot stand-in, to run as root inside a host that has it (hvtune's reboot command
   * in tests). Not a reboot: the host's init ends, its sessions are cut, and the lab starts the
   * host again after the delay with a new /proc/sys/kernel/random/boot_id.
   */
  readonly rebootStandInCommand: string[];
  /**
   * Give a running host the reboot stand-in: its command, a shadowed boot id of its own from now
   * on, and a restart whenever its init ends because that command asked for it. `delayMs` (default
   * 1000) is the time between the old init's end and the new one's start. Calling it again changes
   * the delay.
   */
  enableRebootStandIn(host: LabHost | string, opts?: { delayMs?: number }): Promise<void>;
  /**
   * Work a real boot would do (start a daemon): run after each stand-in reboot of `host`, once ssh
   * answers, before waitForReboot resolves. A failing hook fails the reboot.
   */
  onStandInBoot(host: LabHost | string, hook: () => Promise<void>): void;
  /**
   * After the stand-in command has run (its session cut): resolves once the host is up again (sshd
   * answers, shadows set again). At once when no stand-in reboot is asked for or under way. Rejects
   * when the restart failed, the host was stopped, or `timeoutMs` (default 30000) passed.
   */
  waitForReboot(host: LabHost | string, opts?: { timeoutMs?: number }): Promise<LabHost>;
  /** Run argv inside the host's namespaces, root = host /. Never throws on non-zero exit. */
  exec(host: LabHost | string, argv: string[], opts?: { stdin?: string }): Promise<RunResult>;
  /** Start a long-running process inside the host as a direct child; stop() kills it by PID and waits. */
  spawn(host: LabHost | string, argv: string[], opts?: { env?: Record<string, string>; logFile?: string }): Promise<SpawnedProcess>;
  /** A file of the host's filesystem; null when it cannot be read. */
  readFile(host: LabHost | string, path: string): Promise<string | null>;
  /** Write a file of the host's filesystem, creating its directory. */
  writeFile(host: LabHost | string, path: string, content: string, mode?: number): Promise<void>;
  /** Per-host shadow of a machine-global /proc/sys or /sys file: reads and writes inside the host see `value`. */
  shadow(host: LabHost | string, path: string, value: string): Promise<void>;
  /**
   * Per-host shadow of a machine-global /sys directory: inside the host, `path` holds `files`
   * (relative path → content) and nothing else. For a kernel view that does not depend on the
   * machine, such as the modules in /sys/module.
   */
  shadowTree(host: LabHost | string, path: string, files: Record<string, string>): Promise<void>;
  /** Add hosts later; `groups` names inventory groups they join besides `lab`. */
  addHosts(count: number, opts?: { names?: string[]; groups?: string[] }): Promise<LabHost[]>;
  /**
   * Kill one host's init and remove its netns and dirs; its address then fails fast (unreachable route).
   * A stand-in reboot under way is cancelled.
   */
  stopHost(host: LabHost | string): Promise<void>;
  /** Kill everything by PID (stand-in reboots under way are cancelled), delete namespaces, remove the dir. Idempotent. */
  destroy(): Promise<void>;
}

export interface LabOptions {
  /** Number of hosts, default 3 (or the number of names). */
  hosts?: number;
  /** Inventory names, default hv1..hvN. */
  names?: string[];
  /** Working dir, default a fresh one under /tmp/hvtune-lab/; destroy() removes it. */
  dir?: string;
  /** Goes into the lab id and namespace names (1-12 letters or digits). */
  tag?: string;
  /** path → value, shadowed on every host at creation (see Lab.shadow). */
  shadows?: Record<string, string>;
  /** Inventory groups; group `lab` always holds every host unless defined here. */
  groups?: Record<string, string[]>;
  /** Give every host (also those added later) the reboot stand-in (see Lab.enableRebootStandIn). */
  rebootStandIn?: boolean | { delayMs?: number };
}

/** A host's reboot stand-in: its settings and the restart under way, if any. */
interface StandIn {
  delayMs: number;
  /** From taking a request until the host answers again or the restart is given up; never rejects. */
  restart: Promise<void> | null;
  /** The part of the restart that starts the new init: stopHost and destroy wait for it, then kill by PID. */
  spawn: Promise<void> | null;
  /** Set by stopHost and destroy before they kill: no restart from then on. */
  ended: boolean;
  /** Cancels the delay before a restart. */
  abort: AbortController;
  /** Why the last restart failed; waitForReboot reports it. */
  failure: Error | null;
  /** The host is up again and its boot hooks run: they may use it. */
  booting: boolean;
}

const HOST_NAME = /^[a-z][a-z0-9-]{0,15}$/;
const STOP_GRACE_MS = 10_000;

class Tier1Lab implements Lab {
  readonly hosts: LabHost[] = [];
  readonly timings: Record<string, HostTiming> = {};
  readonly reboots: Record<string, RebootTiming[]> = {};
  readonly rebootStandInCommand = [REBOOT_STAND_IN_PATH];
  readonly keyPath: string;
  readonly knownHostsPath: string;
  readonly inventoryPath: string;
  private clientPublicKey = '';
  private readonly groups: Map<string, string[]>;
  /** Each host's shadows, in the order they were made: a restarted host gets them again. */
  private readonly binds = new Map<string, (Bind & { tree: boolean })[]>();
  private readonly standIns = new Map<string, StandIn>();
  private readonly bootHooks = new Map<string, (() => Promise<void>)[]>();
  private spawnCount = 0;
  private treeCount = 0;

  constructor(
    private readonly state: LabState,
    private readonly options: LabOptions,
  ) {
    this.keyPath = join(state.dir, 'id_ed25519');
    this.knownHostsPath = join(state.dir, 'known_hosts');
    this.inventoryPath = join(state.dir, 'inventory.yml');
    this.groups = new Map(Object.entries(options.groups ?? {}));
  }

  get id(): string {
    return this.state.id;
  }

  get dir(): string {
    return this.state.dir;
  }

  async init(): Promise<void> {
    this.clientPublicKey = await generateKey(this.keyPath, `hvtune-lab-${this.id}`);
    const count = this.options.names?.length ?? this.options.hosts ?? 3;
    await this.addHosts(count, { names: this.options.names });
  }

  async addHosts(count: number, opts: { names?: string[]; groups?: string[] } = {}): Promise<LabHost[]> {
    if (this.state.destroyed) throw new Error(`lab ${this.id} is destroyed`);
    const names = opts.names ?? this.nextNames(count);
    for (const name of names) {
      if (!HOST_NAME.test(name)) throw new Error(`lab host name must match ${HOST_NAME}, got ${JSON.stringify(name)}`);
      if (this.state.hosts.some((h) => h.name === name)) throw new Error(`lab already has a host named ${name}`);
    }
    const states: HostState[] = allocateSubnets(this.id, names.length).map((subnet, i) => ({
      name: names[i],
      netns: netnsName(this.id, names[i]),
      subnet,
      dir: join(this.dir, 'hosts', names[i]),
      pid: 0,
      exited: Promise.resolve(),
      stopped: false,
    }));
    // Written before anything exists on the machine, so lab-clean finds whatever a crash leaves.
    this.state.hosts.push(...states);
    writeMarker(this.state);
    // Settle every build before failing: a teardown must not race a host still being made.
    const built = await Promise.allSettled(states.map((s) => this.buildHost(s)));
    writeMarker(this.state);
    const failed = built.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    if (failed) throw failed.reason;
    const added = built.map((b) => (b as PromiseFulfilledResult<LabHost>).value);
    this.hosts.push(...added);
    for (const group of opts.groups ?? []) this.groups.set(group, [...(this.groups.get(group) ?? []), ...names]);
    this.writeClientFiles();
    const standIn = this.options.rebootStandIn;
    for (const host of added) {
      for (const [path, value] of Object.entries(this.options.shadows ?? {})) await this.shadow(host, path, value);
      if (standIn) await this.enableRebootStandIn(host, standIn === true ? {} : standIn);
    }
    return added;
  }

  private nextNames(count: number): string[] {
    const names: string[] = [];
    for (let n = 1; names.length < count; n++) {
      const name = `hv${n}`;
      if (!this.state.hosts.some((h) => h.name === name)) names.push(name);
    }
    return names;
  }

  private async buildHost(s: HostState): Promise<LabHost> {
    const t0 = performance.now();
    mkdirSync(s.dir, { recursive: true });
    const [hostKeyPublic] = await Promise.all([prepareUpper(s, this.clientPublicKey), createNetwork(s)]);
    const t1 = performance.now();
    await startInit(s);
    await waitForSsh(s);
    const t2 = performance.now();
    this.timings[s.name] = { setup: t1 - t0, sshReady: t2 - t1, total: t2 - t0 };
    return {
      name: s.name,
      address: s.subnet.hostAddress,
      port: 22,
      netns: s.netns,
      pid: s.pid,
      upper: hostPaths(s).upper,
      hostKeyPublic,
    };
  }

  private writeClientFiles(): void {
    writeFileSync(this.knownHostsPath, renderKnownHosts(this.hosts));
    writeFileSync(this.inventoryPath, renderInventory({ hosts: this.hosts, groups: this.groups, identityFile: this.keyPath }));
  }

  /** The host named by `host`, running or not; throws for unknown, stopped or destroyed hosts. */
  private existing(host: LabHost | string): HostState {
    const name = typeof host === 'string' ? host : host.name;
    const s = this.state.hosts.find((h) => h.name === name);
    if (!s) throw new Error(`lab ${this.id} has no host named ${name}`);
    if (this.state.destroyed || s.stopped) throw new Error(`lab host ${name} is not running`);
    return s;
  }

  /** The running host named by `host`; throws for unknown, stopped, destroyed or restarting hosts. */
  private live(host: LabHost | string): HostState {
    const s = this.existing(host);
    const standIn = this.standIns.get(s.name);
    if (standIn?.restart && !standIn.booting) {
      throw new Error(`lab host ${s.name} is restarting (reboot stand-in): await lab.waitForReboot first`);
    }
    if (!running(s.wrapper)) throw new Error(`lab host ${s.name} is not running`);
    return s;
  }

  async exec(host: LabHost | string, argv: string[], opts: { stdin?: string } = {}): Promise<RunResult> {
    const s = this.live(host);
    return run('nsenter', nsenterArgv(s.pid, argv), { stdin: opts.stdin, env: HOST_ENV });
  }

  async spawn(
    host: LabHost | string,
    argv: string[],
    opts: { env?: Record<string, string>; logFile?: string } = {},
  ): Promise<SpawnedProcess> {
    const s = this.live(host);
    const logFile = opts.logFile ?? join(s.dir, 'logs', `${basename(argv[0])}-${++this.spawnCount}.log`);
    mkdirSync(dirname(logFile), { recursive: true });
    const fd = openSync(logFile, 'a');
    const child = spawnProcess('nsenter', nsenterArgv(s.pid, argv), {
      stdio: ['ignore', fd, fd],
      env: { ...HOST_ENV, ...opts.env },
    });
    closeSync(fd);
    this.state.spawned.add(child);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    void exited.then(() => this.state.spawned.delete(child));
    const pid = await forkedChildPid(child, logFile, `${argv[0]} in ${s.name}`);
    return { pid, stop: () => stopChild(child, pid, exited) };
  }

  async readFile(host: LabHost | string, path: string): Promise<string | null> {
    const r = await this.exec(host, ['cat', '--', path]);
    return r.code === 0 ? r.stdout : null;
  }

  async writeFile(host: LabHost | string, path: string, content: string, mode = 0o644): Promise<void> {
    const script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1" && chmod "$2" "$1"';
    const r = await this.exec(host, ['sh', '-c', script, 'sh', path, mode.toString(8)], { stdin: content });
    if (r.code !== 0) throw new Error(`lab: cannot write ${path} on ${this.live(host).name}: ${r.stderr.trim()}`);
  }

  async shadow(host: LabHost | string, path: string, value: string): Promise<void> {
    const s = this.live(host);
    if (!/^\/(proc|sys)\/[A-Za-z0-9_./:-]+$/.test(path) || path.includes('..')) {
      throw new Error(`lab: only files under /proc or /sys can be shadowed, got ${JSON.stringify(path)}`);
    }
    const content = value.endsWith('\n') ? value : value + '\n';
    let file = this.shadowFile(s.name, path);
    if (file === undefined) {
      if ((await this.exec(s.name, ['test', '-f', path])).code !== 0) {
        throw new Error(`lab: cannot shadow ${path} on ${s.name}: no such file there (keys absent in a netns cannot be shadowed)`);
      }
      file = join(s.dir, 'shadows', path.slice(1).replace(/\//g, '%'));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      await this.bind(s, { source: file, target: path, tree: false });
    } else {
      writeFileSync(file, content); // same inode: the bind mount shows it at once
    }
    // A shadow that silently failed would let a test write the machine's real value.
    const seen = await this.readFile(s.name, path);
    if (seen !== content)
      throw new Error(`lab: shadow of ${path} on ${s.name} reads ${JSON.stringify(seen)}, not ${JSON.stringify(content)}`);
  }

  async shadowTree(host: LabHost | string, path: string, files: Record<string, string>): Promise<void> {
    const s = this.live(host);
    const safe = (p: string) => /^[A-Za-z0-9_./:-]+$/.test(p) && !p.split('/').includes('..');
    if (!/^\/sys\/[A-Za-z0-9_./:-]+$/.test(path) || !safe(path))
      throw new Error(`lab: only directories under /sys can be shadowed, got ${JSON.stringify(path)}`);
    const dir = join(s.dir, 'shadows', `${path.slice(1).replace(/\//g, '%')}-${++this.treeCount}`);
    mkdirSync(dir, { recursive: true });
    for (const [rel, content] of Object.entries(files)) {
      if (!safe(rel) || rel.startsWith('/')) throw new Error(`lab: bad path ${JSON.stringify(rel)} in a shadow of ${path}`);
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), content);
    }
    await this.bind(s, { source: dir, target: path, tree: true });
    const seen = (await this.exec(s.name, ['find', path, '-type', 'f'])).stdout.split('\n').filter(Boolean).sort();
    const want = Object.keys(files)
      .map((rel) => `${path}/${rel}`)
      .sort();
    if (JSON.stringify(seen) !== JSON.stringify(want))
      throw new Error(`lab: shadow of ${path} on ${s.name} shows ${seen.join(' ')}, not ${want.join(' ')}`);
  }

  /** The file that shadows `path` on a host, if there is one. */
  private shadowFile(name: string, path: string): string | undefined {
    return this.binds.get(name)?.find((b) => b.target === path && !b.tree)?.source;
  }

  private async bind(s: HostState, b: Bind & { tree: boolean }): Promise<void> {
    // Only the host's mount namespace sees this mount; its root there is still the machine's /.
    await mustRun('nsenter', ['-t', String(s.pid), '-m', '--', 'mount', '-n', '--bind', b.source, hostPaths(s).merged + b.target]);
    this.binds.set(s.name, [...(this.binds.get(s.name) ?? []), b]);
  }

  async enableRebootStandIn(host: LabHost | string, opts: { delayMs?: number } = {}): Promise<void> {
    const delayMs = opts.delayMs ?? DEFAULT_REBOOT_DELAY_MS;
    const known = this.standIns.get(this.existing(host).name);
    if (known) {
      known.delayMs = delayMs; // a restart already waiting keeps the delay it began with
      return;
    }
    const s = this.live(host);
    await this.writeFile(s.name, REBOOT_STAND_IN_PATH, REBOOT_STAND_IN_SCRIPT, 0o755);
    await this.shadow(s.name, BOOT_ID_PATH, randomUUID());
    const standIn: StandIn = {
      delayMs,
      restart: null,
      spawn: null,
      ended: false,
      abort: new AbortController(),
      failure: null,
      booting: false,
    };
    this.standIns.set(s.name, standIn);
    this.reboots[s.name] = [];
    this.watch(s, standIn);
  }

  /** When the current init ends because the stand-in was asked for, restart the host. */
  private watch(s: HostState, standIn: StandIn): void {
    const mountNs = mountNamespaceOf(s.pid);
    void s.exited.then(() => {
      if (standIn.ended || s.stopped || this.state.destroyed) return;
      if (!rebootRequested(hostPaths(s).upper)) return; // ended some other way: the host stays down
      const endedAt = performance.now();
      // Besides the init's namespaces, only our nsenters (exec, spawn) can still hold its mounts.
      const holders = mountNs === null ? [] : childrenIn(mountNs);
      standIn.failure = null;
      const restart: Promise<void> = this.restart(s, standIn, endedAt, mountNs, holders)
        .catch((e: unknown) => {
          // A host asked to reboot again while coming up is not a failure: the newer restart counts.
          if (!standIn.ended && standIn.restart === restart) standIn.failure = e as Error;
        })
        .finally(() => {
          if (standIn.restart !== restart) return;
          standIn.restart = null;
          standIn.spawn = null;
        });
      standIn.restart = restart;
    });
  }

  private async restart(s: HostState, standIn: StandIn, endedAt: number, mountNs: string | null, holders: number[]): Promise<void> {
    try {
      await sleep(standIn.delayMs, undefined, { signal: standIn.abort.signal });
    } catch {
      return; // stopHost or destroy
    }
    // Two overlays of one upper dir at once are undefined behaviour: the old one must be gone.
    if (mountNs !== null) await namespaceLeft(holders, mountNs);
    if (standIn.ended) return;
    clearRebootRequest(hostPaths(s).upper);
    const bootIdFile = this.shadowFile(s.name, BOOT_ID_PATH);
    if (bootIdFile === undefined) throw new Error(`lab: ${s.name} has no shadowed boot id`);
    writeFileSync(bootIdFile, `${randomUUID()}\n`);
    const spawned = performance.now();
    // startInit sets s.wrapper before its first await: from here stopHost and destroy kill by PID.
    standIn.spawn = startInit(s, this.binds.get(s.name) ?? []);
    await standIn.spawn;
    const host = this.hosts.find((h) => h.name === s.name);
    if (host) host.pid = s.pid;
    writeMarker(this.state);
    this.watch(s, standIn);
    if (standIn.ended) return;
    await waitForSsh(s);
    const up = performance.now();
    this.reboots[s.name].push({ down: up - endedAt, sshReady: up - spawned });
    standIn.booting = true;
    try {
      for (const hook of this.bootHooks.get(s.name) ?? []) {
        if (standIn.ended) return;
        await hook();
      }
    } finally {
      standIn.booting = false;
    }
  }

  onStandInBoot(host: LabHost | string, hook: () => Promise<void>): void {
    const name = this.existing(host).name;
    this.bootHooks.set(name, [...(this.bootHooks.get(name) ?? []), hook]);
  }

  async waitForReboot(host: LabHost | string, opts: { timeoutMs?: number } = {}): Promise<LabHost> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const s = this.existing(host);
      const standIn = this.standIns.get(s.name);
      if (!standIn) throw new Error(`lab host ${s.name} does not have the reboot stand-in`);
      if (standIn.restart) {
        await standIn.restart;
        continue; // done, failed, stopped meanwhile, or asked for again
      }
      if (standIn.failure) throw new Error(`lab: stand-in reboot of ${s.name} failed: ${standIn.failure.message}`);
      // Requested, but the init's end is not seen yet.
      const pending = rebootRequested(hostPaths(s).upper);
      if (!pending && running(s.wrapper)) return this.hosts.find((h) => h.name === s.name)!;
      if (!pending) throw new Error(`lab host ${s.name} is down: its init ended without a stand-in request`);
      if (Date.now() > deadline) throw new Error(`lab host ${s.name}: stand-in reboot asked for, not done in time`);
      await sleep(10);
    }
  }

  /** Stop a host's stand-in for good; resolves once no restart can start processes any more. */
  private async endStandIn(name: string): Promise<void> {
    const standIn = this.standIns.get(name);
    if (!standIn) return;
    standIn.ended = true;
    standIn.abort.abort();
    await standIn.spawn?.catch(() => undefined);
  }

  async stopHost(host: LabHost | string): Promise<void> {
    const s = this.existing(host);
    await this.endStandIn(s.name);
    await endHosts([s]);
    ipBatchSync(networkRemoval(s));
    // Without a route the address would go out of the machine's uplink and time out slowly.
    await mustRun('ip', ['route', 'add', 'unreachable', s.subnet.cidr]);
    s.stopped = true;
    writeMarker(this.state);
    rmSync(s.dir, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    if (this.state.destroyed) return;
    await Promise.all([...this.standIns.keys()].map((name) => this.endStandIn(name)));
    await endHosts(this.state.hosts);
    // Processes started with spawn() died with their host's pid namespace; let nsenter reap them.
    await Promise.race([Promise.all([...this.state.spawned].map(exitOf)), sleep(2_000)]);
    teardownSync(this.state);
  }
}

/**
 * Kill the hosts' inits and wait until their wrappers have reaped them and exited: only then are
 * the PIDs gone (no zombies left) and the hosts' mounts released.
 */
async function endHosts(hosts: HostState[]): Promise<void> {
  for (const host of hosts) killHost(host);
  const all = Promise.all(hosts.map((h) => h.exited));
  if ((await Promise.race([all, sleep(2_000).then(() => 'timeout' as const)])) === 'timeout') {
    for (const host of hosts) killHost(host, { wrapperToo: true });
    await all;
  }
}

function mountNamespaceOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return null;
  }
}

/** This process's children in mount namespace `ns` ("mnt:[inode]"). */
function childrenIn(ns: string): number[] {
  const children = readdirSync('/proc/self/task').flatMap((task) => {
    try {
      return readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
    } catch {
      return []; // the thread ended meanwhile
    }
  });
  return children.filter((pid) => mountNamespaceOf(pid) === ns);
}

/**
 * Wait until none of `pids` is in mount namespace `ns` any more. Their host's pid namespace has
 * ended, so they exit at once; a namespace's inode number can be reused later, so only these
 * processes are watched, not every process on the machine.
 */
async function namespaceLeft(pids: number[], ns: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some((pid) => mountNamespaceOf(pid) === ns)) {
    if (Date.now() > deadline) throw new Error(`lab: processes ${pids.join(' ')} still hold the host's old mounts`);
    await sleep(20);
  }
}

function exitOf(child: ChildProcess): Promise<void> {
  return running(child) ? new Promise((resolve) => child.once('exit', () => resolve())) : Promise.resolve();
}

async function stopChild(child: ChildProcess, pid: number, exited: Promise<void>): Promise<void> {
  if (!running(child)) return;
  // nsenter is still waiting for `pid`, so the PID has not been reused.
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // exited meanwhile
  }
  const timer = sleep(STOP_GRACE_MS).then(() => 'timeout' as const);
  if ((await Promise.race([exited, timer])) === 'timeout' && running(child)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
    await exited;
  }
}

/** Build a lab of tier-1 hosts, concurrently. On failure nothing of it is left behind. */
export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  if (opts.names && opts.hosts !== undefined && opts.names.length !== opts.hosts) {
    throw new Error(`lab: ${opts.names.length} names given for ${opts.hosts} hosts`);
  }
  const id = reserveLabId(opts.tag);
  const dir = opts.dir ?? join(WORK_ROOT, id);
  const state: LabState = { id, dir, hosts: [], spawned: new Set(), destroyed: false };
  registerLab(state);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, LAB_DIR_TAG), `${id} ${process.pid} ${processStartTime('self')}\n`);
    writeMarker(state);
    const lab = new Tier1Lab(state, opts);
    await lab.init();
    return lab;
  } catch (e) {
    await endHosts(state.hosts);
    teardownSync(state);
    throw e;
  }
}
