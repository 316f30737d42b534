// A private libvirtd inside a tier-1 lab host (LAB.md): virtlogd and libvirtd run as direct
// children (no -d, no systemd) and are stopped by PID. Before the first one, libvirtd runs once in
// the root namespace to fill the QEMU capabilities cache (about 8 s; later starts take 0.15 s).

import { spawn as spawnProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../../src/demo/lab/host.js';
import type { Lab, LabHost, SpawnedProcess } from '../../src/demo/lab/tier1.js';

export const LIBVIRT_URI = 'qemu:///system';
const CAPS_CACHE = '/var/cache/libvirt/qemu/capabilities';
const READY_TIMEOUT_MS = 60_000;

export interface LabLibvirt {
  /** Destroy running domains (their QEMU would outlive the daemons), then stop libvirtd and virtlogd by PID. */
  stop(): Promise<void>;
}

async function waitUntil(what: string, ready: () => Promise<boolean>, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await ready())) {
    if (!alive()) throw new Error(`lab: ${what} exited before it was ready`);
    if (Date.now() > deadline) throw new Error(`lab: ${what} not ready after ${READY_TIMEOUT_MS / 1000} s`);
    await sleep(250);
  }
}

let warming: Promise<void> | undefined;

/**
 * Fill the capabilities cache once per process. libvirtd runs in a private mount namespace with
 * scratch /run, /var/lib/libvirt, /var/log/libvirt and a copy of /etc/libvirt (libvirtd rewrites
 * network and nwfilter files on its first start), so only the cache stays on the machine.
 */
export function warmLibvirtCaches(): Promise<void> {
  warming ??= (async () => {
    let cached: string[] = [];
    try {
      cached = readdirSync(CAPS_CACHE).filter((f) => f.endsWith('.xml'));
    } catch {
      // no cache yet
    }
    if (cached.length > 0) return;
    const scratch = mkdtempSync(join(tmpdir(), 'hvtune-libvirt-warm-'));
    const script = [
      'set -e',
      'mount -t tmpfs hvtune-warm /run',
      'mount -t tmpfs hvtune-warm /var/lib/libvirt',
      'mount -t tmpfs hvtune-warm /var/log/libvirt',
      'cp -a /etc/libvirt "$1/etc"',
      'mount --bind "$1/etc" /etc/libvirt',
      'exec libvirtd',
    ].join('\n');
    // unshare execs sh, which execs libvirtd: the child's PID is libvirtd's.
    const child = spawnProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', scratch], {
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const alive = () => child.exitCode === null && child.signalCode === null;
    try {
      await waitUntil(
        'libvirtd (capabilities warm-up)',
        async () => (await run('nsenter', ['-t', String(child.pid), '-m', 'virsh', '-c', LIBVIRT_URI, 'capabilities'])).code === 0,
        alive,
      );
    } finally {
      if (alive()) child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (alive()) child.kill('SIGKILL');
      await exited;
      rmSync(scratch, { recursive: true, force: true });
    }
  })();
  return warming;
}

/**
 * Start virtlogd and libvirtd inside `host`; resolves when virsh answers. On a host with the reboot
 * stand-in they start again after each stand-in reboot, as systemd would start them at boot.
 */
export async function startLibvirt(lab: Lab, host: LabHost | string): Promise<LabLibvirt> {
  let current = await startLibvirtOnce(lab, host);
  let stopped = false;
  lab.onStandInBoot(host, async () => {
    if (!stopped) current = await startLibvirtOnce(lab, host);
  });
  return {
    stop: async () => {
      stopped = true;
      await current.stop();
    },
  };
}

async function startLibvirtOnce(lab: Lab, host: LabHost | string): Promise<LabLibvirt> {
  await warmLibvirtCaches();
  const started: SpawnedProcess[] = [];
  const stopAll = async () => {
    for (const p of started.reverse()) await p.stop();
  };
  try {
    started.push(await lab.spawn(host, ['virtlogd']));
    const libvirtd = await lab.spawn(host, ['libvirtd']);
    started.push(libvirtd);
    const virshWorks = async () => (await lab.exec(host, ['virsh', '-c', LIBVIRT_URI, 'version'])).code === 0;
    const alive = () => {
      try {
        process.kill(libvirtd.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitUntil(`libvirtd in ${typeof host === 'string' ? host : host.name}`, virshWorks, alive);
  } catch (e) {
    await stopAll();
    throw e;
  }
  return {
    stop: async () => {
      const list = await lab.exec(host, ['virsh', '-c', LIBVIRT_URI, 'list', '--name']).catch(() => null);
      for (const name of list?.code === 0 ? list.stdout.split('\n').filter(Boolean) : []) {
        await lab.exec(host, ['virsh', '-c', LIBVIRT_URI, 'destroy', '--domain', name]);
      }
      await stopAll();
    },
  };
}

/** A small, bootless TCG domain (LAB.md: /dev/kvm here cannot run a guest) with one disk and NIC. */
export function tcgDomainXml(name: string, opts: { disk: string; mac?: string; vcpus?: number; memoryMiB?: number }): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <metadata>
    <app:owner xmlns:app="http://example.org/app">lab</app:owner>
  </metadata>
  <memory unit='MiB'>${opts.memoryMiB ?? 64}</memory>
  <vcpu placement='static'>${opts.vcpus ?? 2}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${opts.disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='ethernet'>
      <mac address='${opts.mac ?? '52:54:00:12:34:56'}'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
`;
}

/** Create a 16 MiB qcow2 disk and define a TCG domain from it inside `host`. */
export async function defineTcgDomain(
  lab: Lab,
  host: LabHost | string,
  name: string,
  opts: { mac?: string; vcpus?: number } = {},
): Promise<void> {
  const disk = `/var/lib/libvirt/images/${name}.qcow2`;
  const img = await lab.exec(host, ['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '16M']);
  if (img.code !== 0) throw new Error(`lab: qemu-img create ${disk}: ${img.stderr.trim()}`);
  const xmlPath = `/tmp/${name}.xml`;
  await lab.writeFile(host, xmlPath, tcgDomainXml(name, { disk, ...opts }));
  const r = await lab.exec(host, ['virsh', '-c', LIBVIRT_URI, 'define', '--file', xmlPath]);
  if (r.code !== 0) throw new Error(`lab: virsh define ${name}: ${r.stderr.trim()}`);
}

/**
 * Give a lab host's libvirtd a host UUID of its own: lab hosts share the machine's SMBIOS UUID, and
 * libvirt refuses to migrate between two daemons with the same one ("migrate guest to the same host").
 */
export async function setLibvirtHostUuid(lab: Lab, host: LabHost | string, uuid: string): Promise<void> {
  await lab.writeFile(host, '/etc/libvirt/libvirtd.conf', `host_uuid = "${uuid}"\n`);
}

/**
 * Make `peer`'s libvirtd reachable from `from` without a route between them (lab hosts' networks
 * meet only in the root namespace, which does not forward): `peer`'s /run/libvirt becomes a
 * directory of the lab, bind-mounted in `from` at /run/hvtune-peers/<peer>. Call it before libvirtd
 * starts on `peer`. Returns the libvirt URI of `peer` as `from` reaches it: with a tunnelled
 * (p2p) migration the source libvirtd carries the memory over that connection.
 */
export async function shareLibvirtSocket(lab: Lab, from: string, peer: string): Promise<string> {
  const shared = join(lab.dir, 'libvirt-run', peer);
  mkdirSync(shared, { recursive: true });
  const bind = async (host: string, target: string) => {
    const h = lab.hosts.find((x) => x.name === host)!;
    // inside the host's mount namespace its own files are under the overlay's merged dir
    const merged = join(dirname(h.upper), 'merged');
    const r = await run('nsenter', [
      '-t',
      String(h.pid),
      '-m',
      '--',
      'sh',
      '-c',
      'mkdir -p "$2" && mount -n --bind "$1" "$2"',
      'sh',
      shared,
      merged + target,
    ]);
    if (r.code !== 0) throw new Error(`lab: bind ${shared} at ${host}:${target}: ${r.stderr.trim()}`);
  };
  await bind(peer, '/run/libvirt');
  await bind(from, `/run/hvtune-peers/${peer}`);
  return `qemu+unix:///system?socket=/run/hvtune-peers/${peer}/libvirt-sock`;
}
