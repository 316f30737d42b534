// The tier-1 lab (LAB.md) that `hvtune demo` builds and the lab tests use: light hosts made of
// namespaces, an overlay of / and a real sshd, created concurrently, torn down by PID even when
// the run fails or is interrupted.

import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
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
  type RunResult,
} from './host.js';
import { renderInventory, renderKnownHosts } from './client-files.js';
import { allocateSubnets, netnsName, reserveLabId, WORK_ROOT } from './names.js';
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
  pid: number; // PID (root pid namespace) of the process whose death ends the host
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
  /** Kill one host's init and remove its netns and dirs; its address then fails fast (unreachable route). */
  stopHost(host: LabHost | string): Promise<void>;
  /** Kill everything by PID, delete namespaces, remove the dir. Idempotent. */
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
}

const HOST_NAME = /^[a-z][a-z0-9-]{0,15}$/;
const STOP_GRACE_MS = 10_000;

class Tier1Lab implements Lab {
  readonly hosts: LabHost[] = [];
  readonly timings: Record<string, HostTiming> = {};
  readonly keyPath: string;
  readonly knownHostsPath: string;
  readonly inventoryPath: string;
  private clientPublicKey = '';
  private readonly groups: Map<string, string[]>;
  private readonly shadows = new Map<string, Map<string, string>>();
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
    for (const host of added) {
      for (const [path, value] of Object.entries(this.options.shadows ?? {})) await this.shadow(host, path, value);
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

  /** The running host named by `host`; throws for unknown, stopped or destroyed hosts. */
  private live(host: LabHost | string): HostState {
    const name = typeof host === 'string' ? host : host.name;
    const s = this.state.hosts.find((h) => h.name === name);
    if (!s) throw new Error(`lab ${this.id} has no host named ${name}`);
    if (this.state.destroyed || s.stopped || !running(s.wrapper)) throw new Error(`lab host ${name} is not running`);
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
    const shadows = this.shadows.get(s.name) ?? new Map<string, string>();
    this.shadows.set(s.name, shadows);
    let file = shadows.get(path);
    if (file === undefined) {
      if ((await this.exec(s.name, ['test', '-f', path])).code !== 0) {
        throw new Error(`lab: cannot shadow ${path} on ${s.name}: no such file there (keys absent in a netns cannot be shadowed)`);
      }
      file = join(s.dir, 'shadows', path.slice(1).replace(/\//g, '%'));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      // Only the host's mount namespace sees this mount; its root there is still the machine's /.
      await mustRun('nsenter', ['-t', String(s.pid), '-m', '--', 'mount', '-n', '--bind', file, hostPaths(s).merged + path]);
      shadows.set(path, file);
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
    await mustRun('nsenter', ['-t', String(s.pid), '-m', '--', 'mount', '-n', '--bind', dir, hostPaths(s).merged + path]);
    const seen = (await this.exec(s.name, ['find', path, '-type', 'f'])).stdout.split('\n').filter(Boolean).sort();
    const want = Object.keys(files)
      .map((rel) => `${path}/${rel}`)
      .sort();
    if (JSON.stringify(seen) !== JSON.stringify(want))
      throw new Error(`lab: shadow of ${path} on ${s.name} shows ${seen.join(' ')}, not ${want.join(' ')}`);
  }

  async stopHost(host: LabHost | string): Promise<void> {
    const s = this.live(host);
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
