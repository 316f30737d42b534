// The tier-2 VM's network namespace: a veth to the root namespace (10.201.K.0/30) whose inner end
// carries the ssh forward into the guest, the tap of the guest's management NIC (10.0.2.0/24, the
// guest is 10.0.2.15), plus the taps of the guest's test NICs. Each VM
// reserves K with an exclusive file under /run/hvtune-lab/vms/ and checks that the machine does
// not already use the names or addresses; a marker lets a later run remove what a crash left.

import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { STATE_DIR } from '../../src/demo/lab/names.js';
import { mustRun } from '../../src/demo/lab/host.js';

const VMS_DIR = `${STATE_DIR}/vms`;
const SLOTS = 256;

export interface VmNetwork {
  slot: number;
  netns: string;
  /** Root-namespace end of the veth pair. */
  veth: string;
  rootAddress: string;
  /** Inner end: qemu forwards ssh from here to the guest. */
  guestForward: string;
  taps: { virtio: string; e1000e: string; mgmt: string };
  /** The namespace's address on the management tap; the guest's is GUEST_ADDRESS. */
  mgmtAddress: string;
}

/** The guest's management address (its /etc/network/interfaces, scripts/vm-image). */
export const GUEST_ADDRESS = '10.0.2.15';

interface VmMarker {
  owner: number;
  qemu: number;
  netns: string;
  veth: string;
  dir: string;
}

function networkOf(slot: number): VmNetwork {
  return {
    slot,
    netns: `hvtvm${slot}`,
    veth: `hvtvm${slot}`,
    rootAddress: `10.201.${slot}.1`,
    guestForward: `10.201.${slot}.2`,
    taps: { virtio: 'tapmq', e1000e: 'tapem', mgmt: 'tapmg' },
    mgmtAddress: '10.0.2.2',
  };
}

function markerPath(slot: number): string {
  return `${VMS_DIR}/${slot}`;
}

function slotInUse(n: VmNetwork): boolean {
  if (existsSync(`/run/netns/${n.netns}`) || existsSync(`/sys/class/net/${n.veth}`)) return true;
  const addresses = execFileSync('ip', ['-o', 'addr', 'show', 'to', `10.201.${n.slot}.0/24`], { encoding: 'utf8' });
  return addresses.trim() !== '';
}

function reserve(slot: number): boolean {
  let fd: number;
  try {
    fd = openSync(markerPath(slot), 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  writeSync(fd, JSON.stringify({ owner: process.pid, qemu: 0, netns: '', veth: '', dir: '' } satisfies VmMarker));
  closeSync(fd);
  return true;
}

/** Reserve a free slot and build its namespace, veth pair and taps. */
export async function allocateVmNetwork(): Promise<VmNetwork> {
  mkdirSync(VMS_DIR, { recursive: true });
  for (let slot = 0; slot < SLOTS; slot++) {
    const n = networkOf(slot);
    if (slotInUse(n) || !reserve(slot)) continue;
    try {
      await build(n);
    } catch (e) {
      releaseVmNetwork(n);
      throw e;
    }
    return n;
  }
  throw new Error(`lab: no free VM network slot (10.201.0-${SLOTS - 1}.0/30 all in use)`);
}

async function build(n: VmNetwork): Promise<void> {
  await mustRun('ip', ['netns', 'add', n.netns]);
  await mustRun('ip', ['link', 'add', n.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.netns]);
  await mustRun('ip', ['addr', 'add', `${n.rootAddress}/30`, 'dev', n.veth]);
  await mustRun('ip', ['link', 'set', n.veth, 'up']);
  const inNs = ['-n', n.netns];
  await mustRun('ip', [...inNs, 'addr', 'add', `${n.guestForward}/30`, 'dev', 'eth0']);
  await mustRun('ip', [...inNs, 'link', 'set', 'eth0', 'up']);
  await mustRun('ip', [...inNs, 'link', 'set', 'lo', 'up']);
  await mustRun('ip', [...inNs, 'tuntap', 'add', 'dev', n.taps.virtio, 'mode', 'tap', 'multi_queue']);
  await mustRun('ip', [...inNs, 'tuntap', 'add', 'dev', n.taps.e1000e, 'mode', 'tap']);
  await mustRun('ip', [...inNs, 'tuntap', 'add', 'dev', n.taps.mgmt, 'mode', 'tap']);
  await mustRun('ip', [...inNs, 'addr', 'add', `${n.mgmtAddress}/24`, 'dev', n.taps.mgmt]);
  for (const tap of Object.values(n.taps)) await mustRun('ip', [...inNs, 'link', 'set', tap, 'up']);
}

export function writeVmMarker(n: VmNetwork, qemuPid: number, dir: string): void {
  const marker: VmMarker = { owner: process.pid, qemu: qemuPid, netns: n.netns, veth: n.veth, dir };
  writeFileSync(markerPath(n.slot), JSON.stringify(marker));
}

/** Delete the namespace (its taps and the veth pair go with it) and the reservation. */
export function releaseVmNetwork(n: Pick<VmNetwork, 'slot' | 'netns' | 'veth'>): void {
  if (existsSync(`/run/netns/${n.netns}`)) {
    try {
      execFileSync('ip', ['netns', 'del', n.netns], { stdio: 'ignore' });
    } catch {
      // removed meanwhile
    }
  }
  if (existsSync(`/sys/class/net/${n.veth}`)) {
    try {
      execFileSync('ip', ['link', 'del', n.veth], { stdio: 'ignore' });
    } catch {
      // went with the namespace
    }
  }
  try {
    unlinkSync(markerPath(n.slot));
  } catch {
    // never reserved or already released
  }
}

function alive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isQemu(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('qemu-system');
  } catch {
    return false;
  }
}

/** Remove VMs whose owning process died without stopping them. */
export function sweepDeadVms(): void {
  let entries: string[];
  try {
    entries = readdirSync(VMS_DIR);
  } catch {
    return;
  }
  for (const entry of entries) {
    const slot = Number(entry);
    if (!Number.isInteger(slot)) continue;
    let marker: VmMarker;
    try {
      marker = JSON.parse(readFileSync(markerPath(slot), 'utf8')) as VmMarker;
    } catch {
      continue;
    }
    if (alive(marker.owner)) continue;
    if (alive(marker.qemu) && isQemu(marker.qemu)) process.kill(marker.qemu, 'SIGKILL');
    const n = networkOf(slot);
    releaseVmNetwork(n);
    if (marker.dir.startsWith('/tmp/hvtune-lab/vm-')) rmSync(marker.dir, { recursive: true, force: true });
  }
}
