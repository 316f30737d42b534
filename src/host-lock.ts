// The host lock (issue 14): a run that may change a host (`play` without --check, `apply PLAN`)
// holds `flock` on /run/hvtune.lock for as long as it works on the host. The lock's file
// descriptor lives in a process of the run's own SSH session (`cat` waiting on the channel's
// stdin), so a dead controller or a dropped connection frees it with nobody's help. A second run
// finds the lock taken and fails that host at once, naming the holder from /run/hvtune.lock.holder.

import { hostname, userInfo } from 'node:os';
import { HvtuneError } from './errors.js';
import type { HostHandle } from './module.js';
import { type RawShell, raw, sh } from './quote.js';
import { newNonce } from './transport/batch.js';
import type { HoldResult } from './transport/ssh.js';

/** On tmpfs on every Linux we know, so a reboot clears it too. */
export const LOCK_PATH = '/run/hvtune.lock';

/** Who holds a host's lock, as the holder file says it. */
export interface LockHolder {
  /** the id of the run's record (`.hvtune/runs/<time>-<id>.json` on the controller) */
  run: string;
  /** the controller's host name */
  controller: string;
  /** the controller's local user */
  user: string;
  /** ISO time the lock was taken (the controller's clock) */
  since: string;
}

export type LockOutcome =
  | { state: 'held' }
  /** taken: `holder` is the live holder's record, null when none names a live process */
  | { state: 'busy'; holder: (LockHolder & { pid: string }) | null }
  | { state: 'no-flock' }
  | { state: 'cannot-open' }
  | { state: 'flock-failed'; code: string };

/** One line of the holder file: no newline or other control character may split it. */
const clean = (value: string) => value.replace(/\p{Cc}/gu, '?');

/** This controller, for a run that takes locks. */
export function controllerIdentity(run: string, now = new Date()): LockHolder {
  return { run, ...whoAmI(), since: now.toISOString() };
}

/** The controller's host and user names, looked up once: every host's lock names them. */
let whoAmICache: { controller: string; user: string } | undefined;

function whoAmI(): { controller: string; user: string } {
  if (whoAmICache) return whoAmICache;
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? String(process.getuid?.() ?? 'unknown'); // no passwd entry for our uid
  }
  whoAmICache = { controller: hostname(), user };
  return whoAmICache;
}

/**
 * The script that takes the lock: POSIX sh (dash). Each outcome is one line `MARKER word`; when
 * busy, whether the holder file names a live process, then the file.
 *
 * The lock is on the shell's fd 9, which `exec cat` keeps: cat ends when the channel's stdin ends
 * (the controller closes the host, or sshd tears the session down when the connection is gone).
 * The holder file is written after the lock is taken, so a second run may look in between: it
 * waits (up to a second) for a record whose pid is alive, rather than name a previous holder.
 */
export function lockScript(path: string, marker: string, holder: LockHolder): string {
  const m = checkedMarker(marker);
  const record = (['run', 'controller', 'user', 'since'] as const).map((k) => `${k}=${clean(holder[k])}`);
  return sh`${raw(openAndLock(path, m, 'exit'))}
if [ "$r" = 0 ]; then
  t="$h.tmp.$$"
  { printf '%s\\n' ${record} "pid=$$" >"$t" && mv -f -- "$t" "$h"; } 2>/dev/null || rm -f -- "$t"
  echo ${m} held
  exec cat >/dev/null
fi
${raw(notHeld(m, 'exit'))}
`;
}

/**
 * lockScript for a connection's shell session (transport/shell-session.ts): it runs in the
 * session's own bash, which then holds fd 9 for as long as the session lasts, so the script
 * returns where the channel's script waits in `cat`; its variables are local to it. The holder
 * file is written by one printf (one write), without the temp file and `mv`: a reader that finds
 * it empty or without a live pid waits and looks again, as it does before the file is written.
 */
export function sessionLockScript(path: string, marker: string, holder: LockHolder): string {
  const m = checkedMarker(marker);
  const [run, controller, user, since] = (['run', 'controller', 'user', 'since'] as const).map((k) => clean(holder[k]));
  return sh`local f h r i l p
${raw(openAndLock(path, m, 'return'))}
if [ "$r" = 0 ]; then
  printf 'run=%s\\ncontroller=%s\\nuser=%s\\nsince=%s\\npid=%s\\n' ${run} ${controller} ${user} ${since} "$$" >"$h" 2>/dev/null
  echo ${m} held
  return 0
fi
exec 9>&-
${raw(notHeld(m, 'return'))}
`;
}

function checkedMarker(marker: string) {
  if (!/^[A-Za-z0-9]{8,64}$/.test(marker)) throw new Error(`invalid lock marker ${JSON.stringify(marker)}`);
  return raw(marker);
}

/** Open the lock file on fd 9 and try the lock once: `r` is flock's status; `leave` ends the script. */
function openAndLock(path: string, m: RawShell, leave: 'exit' | 'return'): string {
  return sh`f=${path}
h=${`${path}.holder`}
command -v flock >/dev/null 2>&1 || { echo ${m} no-flock; ${raw(leave)} 0; }
(: >>"$f") 2>/dev/null || { echo ${m} cannot-open; ${raw(leave)} 0; }
exec 9>>"$f"
flock -n 9
r=$?`;
}

/** Not taken: flock's failure, or busy with whether the holder file names a live process (waiting up to a second for one), then the file. */
function notHeld(m: RawShell, leave: 'exit' | 'return'): string {
  return sh`if [ "$r" != 1 ]; then echo ${m} flock-failed "$r"; ${raw(leave)} 0; fi
i=0
l=stale
while [ "$i" -lt 10 ]; do
  p=$(sed -n 's/^pid=//p' "$h" 2>/dev/null)
  if [ -n "$p" ] && [ -d "/proc/$p" ]; then l=live; break; fi
  i=$((i + 1))
  sleep 0.1 2>/dev/null || sleep 1
done
echo ${m} busy "$l"
cat -- "$h" 2>/dev/null
${raw(leave)} 0`;
}

/** The outcome in a lock script's output; null when it has none (the script did not run). */
export function parseLockOutput(stdout: string, marker: string): LockOutcome | null {
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`${marker} `));
  if (at < 0) return null;
  const [word, arg] = lines[at].slice(marker.length + 1).split(' ');
  switch (word) {
    case 'held':
      return { state: 'held' };
    case 'no-flock':
    case 'cannot-open':
      return { state: word };
    case 'flock-failed':
      return { state: 'flock-failed', code: arg ?? '?' };
    case 'busy': {
      const fields = new Map<string, string>();
      for (const l of lines.slice(at + 1)) {
        const eq = l.indexOf('=');
        if (eq > 0) fields.set(l.slice(0, eq), l.slice(eq + 1));
      }
      const get = (k: string) => fields.get(k) ?? '?';
      // a record whose pid is gone names an earlier holder, not this one
      const live = arg === 'live' && fields.has('run');
      return {
        state: 'busy',
        holder: live ? { run: get('run'), controller: get('controller'), user: get('user'), since: get('since'), pid: get('pid') } : null,
      };
    }
    default:
      return null;
  }
}

/** The failure of a host whose lock could not be taken; null when it was taken. */
export function lockFailure(host: string, path: string, outcome: LockOutcome): string | null {
  const untouched = 'nothing was changed on it';
  switch (outcome.state) {
    case 'held':
      return null;
    case 'busy': {
      const h = outcome.holder;
      return h
        ? `${host}: locked by run ${h.run} from ${h.controller}, user ${h.user}, since ${h.since}; ${untouched}`
        : `${host}: ${path} is locked by a process that is not an hvtune run (${path}.holder names no live holder); ${untouched}`;
    }
    case 'no-flock':
      return `${host}: cannot take the host lock: flock is not installed (package util-linux); ${untouched}`;
    case 'cannot-open':
      return `${host}: cannot take the host lock: cannot open ${path} (not root? set become); ${untouched}`;
    case 'flock-failed':
      return `${host}: cannot take the host lock: flock -n exited with ${outcome.code}; ${untouched}`;
  }
}

interface Holds {
  hold(what: string, script: string, ready: (stdout: string) => boolean, sessionScript?: string): Promise<HoldResult>;
}

/**
 * The engine's `lock` hook for a run: takes the lock on each host it is given, resolving once it is
 * held and rejecting with the holder's name when another run has it. The lock lasts as long as the
 * host's connection: closing the host releases it.
 */
export function hostLock(runId: string, path = LOCK_PATH): (host: HostHandle) => Promise<void> {
  return async (host) => {
    const holds = host as HostHandle & Partial<Holds>;
    if (typeof holds.hold !== 'function') throw new HvtuneError(`${host.name}: cannot take the host lock over this connection`);
    const marker = newNonce();
    const holder = controllerIdentity(runId);
    const taken = await holds.hold(
      `take the host lock ${path}`,
      lockScript(path, marker, holder),
      (stdout) => parseLockOutput(stdout, marker)?.state === 'held',
      sessionLockScript(path, marker, holder),
    );
    if (taken.held) return;
    const { result } = taken;
    const outcome = parseLockOutput(result.stdout, marker);
    if (!outcome) {
      const stderr = result.stderr.trim();
      throw new HvtuneError(
        `${host.name}: cannot take the host lock (exit ${result.code})${stderr ? `: ${stderr}` : ''}; nothing was changed on it`,
      );
    }
    throw new HvtuneError(lockFailure(host.name, path, outcome) ?? `${host.name}: the host lock ended as soon as it was taken`);
  };
}
