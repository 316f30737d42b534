// The tier-1 lab's stand-in for a reboot. It is NOT a reboot: a tier-1 host shares the machine's
// kernel, so a real reboot, poweroff or halt must never run in one (LAB.md). A host with the
// stand-in has a script that records the request in the host's own filesystem and ends the host's
// init (its sshd, PID 1 of the host's pid namespace); the pid namespace ends with it, every process
// of the host and every ssh session is cut. The harness (tier1.ts) sees that init exit, finds the
// request and, after a delay, starts a new init in new pid/mount/uts/ipc namespaces on the same
// overlay upper dir (files persist like a disk), in the same network namespace (per-netns sysctls
// keep their values), with the same address and host key and a new shadowed boot id.

import { existsSync, rmSync } from 'node:fs';
import { SSHD_CONFIG_PATH } from './host.js';

/** Where the script lives inside a host that has the stand-in; `[this path]` is the reboot command. */
export const REBOOT_STAND_IN_PATH = '/usr/local/sbin/hvtune-lab-reboot-stand-in';

/** The request the script leaves in the host's filesystem, found by the harness in the upper dir. */
const REQUEST_PATH = '/var/lib/hvtune-lab/reboot-stand-in.requested';

/** The machine's boot id is global and read-only: each host with the stand-in gets its own shadow. */
export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

/** Milliseconds between the old init's end and the new one's start, as a real reboot takes a while. */
export const DEFAULT_REBOOT_DELAY_MS = 1_000;

export const REBOOT_STAND_IN_SCRIPT = `#!/bin/sh
# hvtune tier-1 lab: a stand-in for reboot, NOT a reboot (this host shares the machine's kernel).
# Records the request, then ends this host's init; the lab harness starts the host again.
set -eu
# Only inside a lab host, where PID 1 is the lab's sshd; anywhere else PID 1 is not ours to signal.
case "$(tr '\\0' ' ' </proc/1/cmdline)" in
  *sshd*${SSHD_CONFIG_PATH}*) ;;
  *) echo "$0: PID 1 is not a tier-1 lab host's sshd: not ending it" >&2; exit 1 ;;
esac
mkdir -p -- "$(dirname -- ${REQUEST_PATH})"
date -u +%Y-%m-%dT%H:%M:%S.%NZ >${REQUEST_PATH}
# From inside its pid namespace, init receives only the signals it handles; sshd ends on SIGTERM,
# and the kernel then ends everything else in the namespace, this session included.
kill -TERM 1 && sleep 30 || true
rm -f -- ${REQUEST_PATH}
echo "$0: the host's init did not end" >&2
exit 1
`;

/** True from the script's request until the harness restarts the host (it reads the upper dir, never writes it while mounted). */
export function rebootRequested(upper: string): boolean {
  return existsSync(upper + REQUEST_PATH);
}

/** Remove the request once the host's overlay is unmounted: only then is the upper dir ours to change. */
export function clearRebootRequest(upper: string): void {
  rmSync(upper + REQUEST_PATH, { force: true });
}
