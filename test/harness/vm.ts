// The tier-2 lab (LAB.md): a real Debian VM under QEMU/TCG, booted through its own GRUB from a
// copy-on-write layer over the cached image of scripts/vm-image. Its virtio-net (4 queues) and
// e1000e NICs sit on taps in a network namespace the harness creates; ssh reaches the guest's
// management NIC (a third tap) through a relay on a veth address into that namespace.

import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { joinArgv } from '../../src/quote.js';
import { mustRun, run, type RunResult } from '../../src/demo/lab/host.js';
import { renderInventory, renderKnownHosts } from '../../src/demo/lab/client-files.js';
import { WORK_ROOT } from '../../src/demo/lab/names.js';
import { allocateVmNetwork, GUEST_ADDRESS, releaseVmNetwork, sweepDeadVms, writeVmMarker, type VmNetwork } from './vm-network.js';

const VM_IMAGE_SCRIPT = fileURLToPath(new URL('../../scripts/vm-image', import.meta.url));
// 30 s on an idle machine; TCG slows ten-fold and more when other work shares the cores.
const DEFAULT_BOOT_TIMEOUT_MS = 1_200_000;

export interface VmOptions {
  /** Directory printed by scripts/vm-image; default: run the script (instant when cached). */
  imageDir?: string;
  /** Working dir, default a fresh one under /tmp/hvtune-lab/; stop() removes it. */
  dir?: string;
  /** Queues of the virtio-net NIC (ens3); its MSI-X vectors are 2 per queue pair + 2. */
  queues?: number;
  memoryMiB?: number;
  cpus?: number;
  /** How long a boot may take until sshd answers. */
  bootTimeoutMs?: number;
}

/** Milliseconds measured by the harness. */
export interface VmTimings {
  image: number;
  boot: number;
  reboots: number[];
}

/** A running VM as ssh reaches it, from the process that booted it or from any other. */
interface VmAddress {
  /** Inventory name: vm1, in group `vm`. */
  name: string;
  /** Address and port ssh uses (the forward into the VM's management NIC). */
  address: string;
  port: number;
  keyPath: string;
  knownHostsPath: string;
  inventoryPath: string;
  dir: string;
  /** Network namespace that holds the taps and the qemu process. */
  netns: string;
  /** PID of qemu. */
  pid: number;
}

/** What another process needs to reach a running VM (JSON-serialisable). */
export interface VmInfo extends VmAddress {
  bootTimeoutMs: number;
}

export interface VmClient extends VmAddress {
  /** The guest's serial console so far. */
  consoleLog(): string;
  timings: VmTimings;
  /** Run argv in the guest as root over ssh. Never throws on a non-zero exit. */
  exec(argv: string[], opts?: { stdin?: string; timeoutSeconds?: number }): Promise<RunResult>;
  /** Like exec, but throws with the command's stderr unless it exits 0; returns stdout. */
  mustExec(argv: string[]): Promise<string>;
  /** A real reboot (`systemctl reboot`, SeaBIOS, GRUB, kernel): resolves when the new boot answers ssh. */
  reboot(): Promise<void>;
}

/** The VM as its owner sees it: it alone can stop it. */
export interface Vm extends VmClient {
  info(): VmInfo;
  /** Kill qemu by PID, remove the namespace and the dir. Idempotent. */
  stop(): Promise<void>;
}

/** Build or find the cached image; returns its directory. */
export async function vmImage(): Promise<string> {
  const r = await run(VM_IMAGE_SCRIPT, []);
  if (r.code !== 0) throw new Error(`lab: scripts/vm-image failed (exit ${r.code}):\n${r.stderr.trim()}`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

/** ssh to the guest, reboots and the console; works in any process that knows the VmInfo. */
class VmSession implements VmClient {
  readonly name: string = 'vm1';
  readonly port: number = 22;
  readonly keyPath: string;
  readonly knownHostsPath: string;
  readonly inventoryPath: string;
  readonly timings: VmTimings = { image: 0, boot: 0, reboots: [] };
  pid = 0;

  constructor(
    readonly dir: string,
    readonly address: string,
    readonly netns: string,
    protected readonly bootTimeoutMs: number,
  ) {
    this.keyPath = join(dir, 'id_ed25519');
    this.knownHostsPath = join(dir, 'known_hosts');
    this.inventoryPath = join(dir, 'inventory.yml');
  }

  protected get consolePath(): string {
    return join(this.dir, 'console.log');
  }

  consoleLog(): string {
    return existsSync(this.consolePath) ? readFileSync(this.consolePath, 'utf8') : '';
  }

  /** Whether qemu still runs; the owner knows its child, others look at the PID. */
  protected running(): boolean {
    try {
      return readFileSync(`/proc/${this.pid}/cmdline`, 'utf8').startsWith('qemu-system');
    } catch {
      return false;
    }
  }

  protected qemuExitReason(): string {
    return '';
  }

  /** Wait until ssh logs in and, when given, the boot id differs from `previousBootId`. */
  protected async waitForLogin(previousBootId: string | undefined): Promise<void> {
    const deadline = Date.now() + this.bootTimeoutMs;
    for (;;) {
      if (!this.running()) {
        throw new Error(`lab: qemu of ${this.name} exited: ${this.qemuExitReason()}\n${this.consoleTail()}`);
      }
      if (Date.now() > deadline) throw new Error(`lab: ${this.name} did not answer ssh in time\n${this.consoleTail()}`);
      // Until the guest's sshd listens, qemu accepts the forwarded connection and closes it: ssh fails
      // fast. Once it listens, a starved guest may take a minute to answer: a short timeout would
      // pile up half-open logins until sshd's MaxStartups drops them all.
      const r = await this.exec(['cat', '/proc/sys/kernel/random/boot_id'], { timeoutSeconds: 120 });
      if (r.code === 0 && r.stdout.trim() !== '' && r.stdout.trim() !== previousBootId) return;
      await sleep(1000);
    }
  }

  protected consoleTail(): string {
    return `console (last lines):\n${this.consoleLog().split('\n').slice(-25).join('\n')}`;
  }

  exec(argv: string[], opts: { stdin?: string; timeoutSeconds?: number } = {}): Promise<RunResult> {
    return run('ssh', [...this.sshOptions(opts.timeoutSeconds ?? 120), `root@${this.address}`, '--', joinArgv(argv)], {
      stdin: opts.stdin,
    });
  }

  async mustExec(argv: string[]): Promise<string> {
    const r = await this.exec(argv);
    if (r.code !== 0) throw new Error(`${this.name}: ${joinArgv(argv)} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  private sshOptions(connectTimeout: number): string[] {
    return [
      '-i',
      this.keyPath,
      '-p',
      String(this.port),
      '-o',
      `UserKnownHostsFile=${this.knownHostsPath}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'LogLevel=ERROR',
      '-o',
      `ConnectTimeout=${connectTimeout}`,
      '-o',
      'ServerAliveInterval=5',
      '-o',
      'ServerAliveCountMax=6',
      // One login, many commands: under TCG every new login costs the guest seconds of key exchange.
      '-o',
      'ControlMaster=auto',
      '-o',
      `ControlPath=${this.controlPath}`,
      '-o',
      'ControlPersist=30',
      '-F',
      '/dev/null',
    ];
  }

  protected get controlPath(): string {
    return join(this.dir, 'ssh-mux');
  }

  /** End the shared ssh connection (ControlPersist keeps it in the background). */
  protected async closeSsh(): Promise<void> {
    if (existsSync(this.controlPath))
      await run('ssh', ['-o', `ControlPath=${this.controlPath}`, '-O', 'exit', '-F', '/dev/null', `root@${this.address}`]);
  }

  async reboot(): Promise<void> {
    const started = Date.now();
    const bootId = (await this.mustExec(['cat', '/proc/sys/kernel/random/boot_id'])).trim();
    // The connection may drop before ssh reports an exit status; the new boot id is the proof.
    await this.exec(['systemctl', 'reboot']);
    await this.waitForLogin(bootId);
    this.timings.reboots.push(Date.now() - started);
  }
}

class QemuVm extends VmSession implements Vm {
  private child: ChildProcess | undefined;
  private exited = Promise.resolve();
  private relay: ChildProcess | undefined;
  private relayExited = Promise.resolve();
  private stopped = false;
  private readonly qemuStderr: Buffer[] = [];

  constructor(
    dir: string,
    private readonly network: VmNetwork,
    private readonly imageDir: string,
    private readonly options: VmOptions,
  ) {
    super(dir, network.guestForward, network.netns, options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS);
  }

  info(): VmInfo {
    const { name, address, port, keyPath, knownHostsPath, inventoryPath, dir, netns, pid, bootTimeoutMs } = this;
    return { name, address, port, keyPath, knownHostsPath, inventoryPath, dir, netns, pid, bootTimeoutMs };
  }

  async prepare(): Promise<void> {
    copyFileSync(join(this.imageDir, 'id_ed25519'), this.keyPath);
    const hostKeyPublic = readFileSync(join(this.imageDir, 'host_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const host = { name: this.name, address: this.address, port: this.port, hostKeyPublic };
    writeFileSync(this.knownHostsPath, renderKnownHosts([host]));
    writeFileSync(
      this.inventoryPath,
      renderInventory({ hosts: [host], groups: new Map([['vm', [this.name]]]), identityFile: this.keyPath }),
    );
    // The cached image stays pristine: every VM writes to its own layer.
    await mustRun('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'raw',
      '-b',
      join(this.imageDir, 'disk.img'),
      join(this.dir, 'disk.qcow2'),
    ]);
  }

  qemuArgv(): string[] {
    const queues = this.options.queues ?? 4;
    const { taps } = this.network;
    return [
      'netns',
      'exec',
      this.network.netns,
      'qemu-system-x86_64',
      '-name',
      this.name,
      '-machine',
      'pc,accel=tcg',
      '-cpu',
      'max',
      '-smp',
      String(this.options.cpus ?? 2),
      '-m',
      String(this.options.memoryMiB ?? 1024),
      '-display',
      'none',
      '-vga',
      'none',
      '-monitor',
      'none',
      '-serial',
      `file:${this.consolePath}`,
      '-drive',
      `file=${join(this.dir, 'disk.qcow2')},format=qcow2,if=none,id=root`,
      '-device',
      'virtio-blk-pci,drive=root,addr=0x6',
      // PCI slots fix the guest's interface names: ens3, ens4, ens5.
      '-netdev',
      `tap,id=mq,ifname=${taps.virtio},script=no,downscript=no,queues=${queues}`,
      '-device',
      `virtio-net-pci,netdev=mq,mq=on,vectors=${2 * queues + 2},rx_queue_size=1024,addr=0x3,mac=52:54:00:00:03:01`,
      '-netdev',
      `tap,id=em,ifname=${taps.e1000e},script=no,downscript=no`,
      '-device',
      'e1000e,netdev=em,addr=0x4,mac=52:54:00:00:04:01',
      '-netdev',
      `tap,id=mgmt,ifname=${taps.mgmt},script=no,downscript=no`,
      '-device',
      'virtio-net-pci,netdev=mgmt,addr=0x5,mac=52:54:00:00:05:01',
    ];
  }

  /**
   * ssh reaches the guest through a TCP relay in the namespace: from the veth's inner address to
   * the guest's management NIC. (qemu's user network would forward too, but the guest's TCP
   * drops libslirp's SYNs: ListenDrops, never an answer.) The relay ends when its parent does.
   */
  private startRelay(): void {
    const script = `const net = require('node:net');
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 1000).unref();
net.createServer((c) => {
  const g = net.connect(22, ${JSON.stringify(GUEST_ADDRESS)});
  c.pipe(g); g.pipe(c);
  c.on('error', () => g.destroy()); g.on('error', () => c.destroy());
  c.on('close', () => g.destroy()); g.on('close', () => c.destroy());
}).listen(22, ${JSON.stringify(this.address)});`;
    const relay = spawn('ip', ['netns', 'exec', this.network.netns, process.execPath, '-e', script], { stdio: 'ignore' });
    this.relay = relay;
    this.relayExited = new Promise((resolve) => relay.once('exit', () => resolve()));
  }

  async boot(): Promise<void> {
    const started = Date.now();
    this.startRelay();
    const child = spawn('ip', this.qemuArgv(), { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
    this.child = child;
    child.stderr?.on('data', (b: Buffer) => this.qemuStderr.push(b));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // `ip netns exec` execs qemu: this PID is qemu's.
    this.pid = child.pid ?? 0;
    writeVmMarker(this.network, this.pid, this.dir);
    await this.waitForLogin(undefined);
    this.timings.boot = Date.now() - started;
  }

  protected override running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  protected override qemuExitReason(): string {
    return Buffer.concat(this.qemuStderr).toString('utf8').trim();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.running()) {
      process.kill(this.pid, 'SIGTERM');
      const killed = await Promise.race([this.exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed && this.running()) {
        process.kill(this.pid, 'SIGKILL');
        await this.exited;
      }
    }
    await this.closeSsh();
    if (this.relay?.pid && this.relay.exitCode === null && this.relay.signalCode === null) {
      process.kill(this.relay.pid, 'SIGTERM');
      await this.relayExited;
    }
    releaseVmNetwork(this.network);
    rmSync(this.dir, { recursive: true, force: true });
    process.removeListener('exit', this.onExit);
  }

  /** A test run that ends without stop() (a crash, ^C) still leaves nothing. */
  readonly onExit = (): void => {
    if (this.stopped) return;
    if (this.running()) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (this.relay?.pid && this.relay.exitCode === null) {
      try {
        process.kill(this.relay.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    releaseVmNetwork(this.network);
    rmSync(this.dir, { recursive: true, force: true });
  };
}

/** Boot the tier-2 VM; resolves when root can log in over ssh. */
export async function startVm(opts: VmOptions = {}): Promise<Vm> {
  sweepDeadVms();
  const imageStarted = Date.now();
  const imageDir = opts.imageDir ?? (await vmImage());
  const imageMs = Date.now() - imageStarted;
  mkdirSync(WORK_ROOT, { recursive: true });
  const dir = opts.dir ?? mkdtempSync(join(WORK_ROOT, 'vm-'));
  const network = await allocateVmNetwork();
  const vm = new QemuVm(dir, network, imageDir, opts);
  vm.timings.image = imageMs;
  process.on('exit', vm.onExit);
  try {
    await vm.prepare();
    await vm.boot();
  } catch (e) {
    await vm.stop();
    throw e;
  }
  return vm;
}

/** Reach a VM another process booted (a test worker, the suite's global setup being the owner). */
export function attachVm(info: VmInfo): VmClient {
  const session = new VmSession(info.dir, info.address, info.netns, info.bootTimeoutMs);
  session.pid = info.pid;
  return session;
}
