// The HostHandle modules use (src/module.ts), built on anything that can run a command line:
// an SshConnection in a run, a local shell in unit tests. Every method is one round trip.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { HvtuneError, RemoteCommandError, StaleWriteError } from './errors.js';
import { FACTS_SCRIPT, parseFacts, type Facts } from './facts.js';
import type { CommandResult, FileExpectation, HostHandle, ReadRequest, ReadResult } from './module.js';
import { joinArgv, raw, type RawShell, sh } from './quote.js';
import { batchCommandLine, buildReadScript, newNonce, parseReadOutput } from './transport/batch.js';
import { SshConnection, type ExecOptions, type HoldResult, type SshOptions, type SshTarget } from './transport/ssh.js';

/** Runs one command line on a host through its login shell. */
export interface Exec {
  exec(command: string, opts?: ExecOptions): Promise<CommandResult>;
  /** Commands run so far, when the transport counts them. */
  readonly roundTrips?: number;
  /** A command that runs on once ready, until close() (SshConnection.hold); not a round trip. */
  hold?(command: string, ready: (stdout: string) => boolean, opts?: { shown?: string; sessionScript?: string }): Promise<HoldResult>;
  close?(): Promise<void>;
}

/** This machine's /bin/sh as an Exec: for tests of the host scripts without a network. */
export class LocalShell implements Exec {
  roundTrips = 0;

  exec(command: string, opts: ExecOptions = {}): Promise<CommandResult> {
    this.roundTrips++;
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', command], { stdio: 'pipe', timeout: opts.timeoutMs });
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => errOut.push(d));
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8'), code, signal }),
      );
      child.stdin.on('error', () => undefined); // the command may exit without reading stdin
      child.stdin.end(opts.stdin ?? undefined);
    });
  }
}

/**
 * Where replaced and removed files are kept: `<root><path>@<UTC time>.<pid>`, the last
 * BACKUPS_KEPT per file. Outside the directories they came from, because tools read whole
 * directories by glob (Debian's `source /etc/network/interfaces.d/*` would read a backup beside
 * its file); 0700, because they hold what the files held.
 */
export const BACKUP_ROOT = '/var/lib/hvtune/backups';
const BACKUPS_KEPT = 10;

/**
 * Make a backup of "$p" into "$b" by `how` (cp -p or mv) and keep the last few (sets b). The PID
 * is zero-padded to pid_max's seven digits, so names sort in the order they were made even within
 * one second (…Z.0000998 before …Z.0001003): the oldest are the ones removed.
 */
function backupSteps(root: string, how: 'cp -p' | 'mv -f'): string {
  // Builtins where a program is not needed: a write costs few processes on the host.
  return sh`r=${root}
n=000000$$
b="$r$p@$(date -u +%Y%m%dT%H%M%SZ).\${n#"\${n%???????}"}"
[ -d "\${b%/*}" ] || (umask 077 && mkdir -p -- "\${b%/*}")
${raw(how)} -- "$p" "$b"
set -- "$r$p"@*
c=$#
for o; do [ "$c" -gt ${String(BACKUPS_KEPT)} ] || break; rm -f -- "$o"; c=$((c - 1)); done`;
}

/** The backup path a write or remove printed after its marker (a login shell may print before it). */
function backupFrom(stdout: string): string | null {
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith('::hvtune:: backup '))
    .pop();
  const path = line?.slice('::hvtune:: backup '.length) ?? '';
  return path === '' ? null : path;
}

/** The exit status of a write or remove that found its file changed since it was read. */
const STALE_EXIT = 76;

/** What a write or remove expects the target to be: its sha256 or 'absent'; undefined without an expectation. */
function expectedTarget(expect: FileExpectation | undefined): string | undefined {
  if (expect === undefined) return undefined;
  const want = 'absent' in expect ? 'absent' : expect.sha256;
  if (want !== 'absent' && !/^[0-9a-f]{64}$/.test(want)) throw new HvtuneError(`invalid sha256 expectation ${JSON.stringify(want)}`);
  return want;
}

/** Refuse (exit STALE_EXIT) unless "$now", the target's sha256 or `absent`, is `want`. */
function refuseStale(want: string): string {
  return sh`if [ "$now" != ${want} ]; then
  echo "$p changed on the host since it was read: re-run to plan again" >&2
  exit ${String(STALE_EXIT)}
fi`;
}

/**
 * Refuse (exit STALE_EXIT) unless "$p" still is what the plan read: the last step before the
 * rename or removal, so a file changed by anyone since the read is never replaced from it.
 */
function expectSteps(expect: FileExpectation | undefined): string {
  const want = expectedTarget(expect);
  if (want === undefined) return '';
  return sh`if ! command -v sha256sum >/dev/null 2>&1; then echo "sha256sum is missing (coreutils): $p left unchanged" >&2; exit 75; fi
if [ -e "$p" ]; then now=$(sha256sum <"$p"); now=\${now%% *}; else now=absent; fi
${raw(refuseStale(want))}`;
}

/** A path is followed through a symlink so the link stays a link (like sed --follow-symlinks). */
const RESOLVE = raw(`if [ -L "$p" ]; then p=$(readlink -f -- "$p"); fi`);

/**
 * The atomic write: content on stdin into a temp file beside the target, installed by rename only
 * when every byte arrived (its sha256 checked on the host: a channel closed mid-transfer leaves
 * the reader's EOF looking like the end), else the target is left as it was and the temp removed.
 * The temp file gets its mode and owner before its content (the old file's, or the ones asked
 * for), and `dd conv=fsync` writes and syncs it in one process: a write costs the host few.
 */
function writeScript(
  path: string,
  content: string,
  opts: { mode?: number; owner?: string; group?: string; backup: boolean; backupRoot: string; expect?: FileExpectation },
): string {
  const bytes = Buffer.byteLength(content);
  const sum = createHash('sha256').update(content).digest('hex');
  const mode = opts.mode;
  // a mode with no execute or special bit is given at creation, by the umask: no chmod
  const byUmask = mode !== undefined && (mode & ~0o666) === 0;
  const umaskFor = (fallback: string) => (byUmask ? (~mode! & 0o777).toString(8).padStart(3, '0') : fallback);
  const account =
    opts.owner === undefined && opts.group === undefined ? '' : `${opts.owner ?? ''}${opts.group === undefined ? '' : `:${opts.group}`}`;
  // what the replaced file passes on: its mode and owners, unless they are given
  const keep = [mode === undefined ? 'mode' : '', opts.owner === undefined || opts.group === undefined ? 'ownership' : ''].filter(Boolean);
  const inherit = keep.length
    ? sh`if ! cp --attributes-only --preserve=${keep.join(',')} -- "$p" "$t" 2>/dev/null; then
    m=$(stat -c '%a %u:%g' -- "$p")
    ${raw(mode === undefined ? 'chmod "${m%% *}" "$t"' : ':')}
    ${raw(keep.includes('ownership') ? 'chown "${m#* }" "$t" 2>/dev/null || true' : ':')}
  fi`
    : ':';
  // chmod after chown: chown clears setuid/setgid bits
  const attributes = raw(
    [account ? sh`chown ${account} "$t"` : '', mode !== undefined && !byUmask ? sh`chmod ${mode.toString(8)} "$t"` : '']
      .filter(Boolean)
      .join('\n'),
  );
  const want = expectedTarget(opts.expect);
  // the temp file's sum and, when the plan read the target, the target's, by one sha256sum
  const sums =
    want === undefined || want === 'absent'
      ? raw(`s=$(sha256sum <"$t"); s=\${s%% *}`)
      : raw(`if [ -e "$p" ]; then x=$(sha256sum -- "$t" "$p"); else x=$(sha256sum -- "$t"); fi
s=\${x#\\\\}; s=\${s%%[!0-9a-f]*}
now=absent
case $x in *"
"*) now=\${x#*"
"}; now=\${now#\\\\}; now=\${now%%[!0-9a-f]*} ;; esac`);
  const proof = attributesProof(opts);
  const stale =
    want === undefined
      ? raw('')
      : raw(`${want === 'absent' ? 'if [ -e "$p" ]; then now=present; else now=absent; fi\n' : ''}${refuseStale(want)}`);
  return sh`set -e
p=${path}
${RESOLVE}
if [ -d "$p" ]; then echo "$p is a directory" >&2; exit 1; fi
d=\${p%/*}
n=\${p##*/}
[ -n "$d" ] || d=/
if [ ! -d "$d" ] && ! mkdir -p -- "$d" 2>/dev/null; then
  a=$d
  while [ ! -e "$a" ] && [ ! -L "$a" ]; do a=$(dirname -- "$a"); done
  if [ ! -d "$a" ]; then echo "$a is not a directory: $p cannot be written" >&2; exit 1; fi
  mkdir -p -- "$d"
fi
# A writer killed outright (SIGKILL: no trap runs) leaves its temp file: one of this file's whose
# writer (the PID it is named after) is gone is removed here.
for o in "$d/.$n.hvtune-tmp."*; do
  k=\${o##*.}
  case $k in ''|*[!0-9]*) continue ;; esac
  [ -d "/proc/$k" ] || rm -f -- "$o"
done
if ! command -v sha256sum >/dev/null 2>&1; then echo "sha256sum is missing (coreutils): $p left unchanged" >&2; exit 75; fi
t="$d/.$n.hvtune-tmp.$$"
trap 'rm -f -- "$t"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# a controller gone mid-transfer closes stderr too: the message about it must not kill the shell
# before its EXIT trap removes the temp file
trap 'exit 141' PIPE
if [ -e "$p" ]; then
  umask ${raw(umaskFor('077'))}
  : >"$t"
  ${raw(inherit)}
else
  umask ${raw(umaskFor(mode === undefined ? '022' : '077'))}
  : >"$t"
fi
${attributes}
dd of="$t" bs=65536 conv=fsync status=none
${sums}
if [ "$s" != ${sum} ]; then
  got=$(wc -c <"$t")
  if [ "$got" -ne ${String(bytes)} ]; then
    echo "$p: incomplete transfer, $got of ${String(bytes)} bytes arrived: left unchanged" >&2
  else
    echo "$p: the bytes that arrived are not the ones sent: left unchanged" >&2
  fi
  exit 75
fi
${proof}
${stale}
b=
if [ ${opts.backup ? '1' : '0'} = 1 ] && [ -e "$p" ]; then
${raw(backupSteps(opts.backupRoot, 'cp -p'))}
fi
mv -f -- "$t" "$p"
trap - EXIT
sync "$d" 2>/dev/null || true
printf '\n::hvtune:: backup %s\n' "$b"
`;
}

/**
 * The temp file's mode and owners checked against the ones asked for, before the rename: a write
 * that was given them proves them itself, and its module needs no read after it. A default ACL on
 * the directory overrides the umask a mode is given by: then the mode is set by chmod and checked
 * again. A numeric owner or group is compared as an id.
 */
function attributesProof(opts: { mode?: number; owner?: string; group?: string }): RawShell {
  const checks: string[] = [];
  if (opts.mode !== undefined) checks.push(`[ "$1" = ${opts.mode.toString(8)} ]`);
  const account = (want: string, id: number, name: number) =>
    /^[0-9]+$/.test(want) ? `[ "$${id}" = ${want} ]` : sh`[ "$${raw(String(name))}" = ${want} ]`;
  if (opts.owner !== undefined) checks.push(account(opts.owner, 2, 4));
  if (opts.group !== undefined) checks.push(account(opts.group, 3, 5));
  if (checks.length === 0) return raw('');
  const statTemp = `set -- $(stat -c '%a %u %g %U %G' -- "$t")`;
  const asked = checks.join(' && ');
  return raw(`${statTemp}
if ! { ${asked}; }; then
  ${opts.mode === undefined ? ':' : `chmod ${opts.mode.toString(8)} "$t"`}
  ${statTemp}
  if ! { ${asked}; }; then
    echo "$p: the new file got mode \${1:-?}, owner \${4:-?}, group \${5:-?}, not the ones asked for: left unchanged" >&2
    exit 75
  fi
fi`);
}

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

export class RemoteHost implements HostHandle {
  /** Round trips of connections this host had before a reboot replaced them. */
  private earlierRoundTrips = 0;

  constructor(
    readonly name: string,
    public connection: Exec,
    /** Set after connecting; the runner may replace it with a fuller gatherer's facts. */
    public facts: Facts,
    /** How to reach the host again after a reboot, and how to reboot it; without it, no reboot. */
    private readonly again?: { connect(): Promise<Exec>; rebootCommand: string[] },
    /** Where backups go (BACKUP_ROOT; tests on this machine's own shell give a scratch dir). */
    private readonly backupRoot = BACKUP_ROOT,
  ) {
    if (!again) this.reboot = undefined;
  }

  /** Round trips made so far on this host's connections (`hvtune play -v`). */
  get roundTrips(): number {
    return this.earlierRoundTrips + (this.connection.roundTrips ?? 0);
  }

  reboot?: HostHandle['reboot'] = async ({ timeoutMs }) => {
    const again = this.again!;
    const started = Date.now();
    const bootId = async (exec: Exec) => {
      const r = await exec.exec(joinArgv(['cat', BOOT_ID]));
      if (r.code !== 0) throw new RemoteCommandError(this.name, `cat ${BOOT_ID}`, r.code, r.stderr, r.stdout);
      return r.stdout.trim();
    };
    const before = await bootId(this.connection);
    // The connection drops while the command runs or soon after: its exit status proves nothing,
    // a new boot id does.
    await this.connection.exec(joinArgv(again.rebootCommand), { timeoutMs: 30_000 }).catch(() => undefined);
    this.earlierRoundTrips = this.roundTrips;
    await this.connection.close?.().catch(() => undefined);
    let lastError = 'the host did not answer';
    while (Date.now() - started < timeoutMs) {
      await sleep(2_000);
      let next: Exec | undefined;
      try {
        next = await again.connect();
        const now = await bootId(next);
        if (now !== before) {
          this.connection = next;
          await this.holdAgain();
          return { bootId: now, seconds: Math.round((Date.now() - started) / 100) / 10 };
        }
        lastError = 'it still runs the same boot (the reboot has not started)';
      } catch (err) {
        if (next && this.connection === next) throw err; // back, but the lock is someone else's now
        lastError = (err as Error).message;
      }
      await next?.close?.().catch(() => undefined);
    }
    throw new HvtuneError(`${this.name}: not back from the reboot within ${Math.round(timeoutMs / 1000)} s: ${lastError}`);
  };

  exec(argv: string[], opts?: ExecOptions): Promise<CommandResult> {
    return this.connection.exec(joinArgv(argv), opts);
  }

  /** Through `sh -c`, so the script runs in a POSIX shell whatever the user's login shell is. */
  sh(script: string, opts?: ExecOptions): Promise<CommandResult> {
    return this.connection.exec(joinArgv(['sh', '-c', script]), opts);
  }

  /**
   * A script that runs on once `ready(stdout)` holds, until the host is closed (host-lock.ts); `what`
   * names it in errors. `sessionScript`: the same for the connection's shell session, where it
   * runs in the session's own shell and returns instead of waiting.
   */
  hold(what: string, script: string, ready: (stdout: string) => boolean, sessionScript?: string): Promise<HoldResult> {
    if (!this.connection.hold) return Promise.reject(new HvtuneError(`${this.name}: this connection cannot hold a command open`));
    this.holds.push({ what, script, ready, sessionScript });
    return this.connection.hold(joinArgv(['sh', '-c', script]), ready, { shown: what, sessionScript });
  }

  /** After a reboot: take again what hold() kept open on the old connection. */
  private async holdAgain(): Promise<void> {
    for (const h of this.holds) {
      const again = await this.connection.hold?.(joinArgv(['sh', '-c', h.script]), h.ready, {
        shown: h.what,
        sessionScript: h.sessionScript,
      });
      if (again && !again.held)
        throw new HvtuneError(`${this.name}: back from the reboot, but could not ${h.what} again: ${again.result.stdout.trim()}`);
    }
  }

  /** What hold() keeps open (the host lock): a reboot ends it, reconnecting takes it again. */
  private readonly holds: { what: string; script: string; ready: (stdout: string) => boolean; sessionScript?: string }[] = [];

  async run(argv: string[], opts?: ExecOptions): Promise<CommandResult> {
    const result = await this.exec(argv, opts);
    if (result.code !== 0) throw new RemoteCommandError(this.name, joinArgv(argv), result.code, result.stderr, result.stdout);
    return result;
  }

  /** Like run, for scripts: a non-zero exit throws, naming `what` instead of the whole script. */
  private async runScript(what: string, script: string, opts?: ExecOptions & { path?: string }): Promise<CommandResult> {
    const { path, ...execOpts } = opts ?? {};
    const result = await this.sh(script, { ...execOpts, session: true });
    if (result.code === STALE_EXIT && path !== undefined) throw new StaleWriteError(this.name, path);
    if (result.code !== 0) throw new RemoteCommandError(this.name, what, result.code, result.stderr, result.stdout);
    return result;
  }

  /** All requests in one round trip. */
  async read(requests: ReadRequest[]): Promise<ReadResult[]> {
    if (requests.length === 0) return [];
    const nonce = newNonce();
    const script = buildReadScript(requests, nonce);
    const { line, stdin } = batchCommandLine(script);
    // a connection's shell session is a clean bash already: it runs the script as it is
    const result = await this.connection.exec(line, { stdin, stdinIsScript: true, bashScript: script });
    try {
      return parseReadOutput(result.stdout, requests, nonce, result.stderr);
    } catch (err) {
      const said = result.stderr
        .split('\n')
        .filter((l) => !l.includes(`@${nonce}@`))
        .join('\n')
        .trim();
      throw new HvtuneError(`${this.name}: ${(err as Error).message}${said ? `\n${said}` : ''}`, undefined, { cause: err });
    }
  }

  async writeFile(
    path: string,
    content: string,
    opts: { mode?: number; owner?: string; group?: string; backup?: boolean; expect?: FileExpectation } = {},
  ): Promise<{ backup: string | null }> {
    const script = writeScript(path, content, { ...opts, backup: opts.backup ?? true, backupRoot: this.backupRoot });
    const result = await this.runScript(`write ${path}`, script, { stdin: content, path });
    return { backup: backupFrom(result.stdout) };
  }

  async removeFile(path: string, opts: { backup?: boolean; expect?: FileExpectation } = {}): Promise<{ backup: string | null }> {
    const keep = opts.backup ?? true;
    const script = sh`set -e
p=${path}
${raw(expectSteps(opts.expect))}
b=
if [ -e "$p" ] || [ -L "$p" ]; then
  if [ ${keep ? '1' : '0'} = 1 ]; then
${raw(backupSteps(this.backupRoot, 'mv -f'))}
  else rm -f -- "$p"; fi
fi
printf '\n::hvtune:: backup %s\n' "$b"`;
    const result = await this.runScript(`remove ${path}`, script, { path });
    return { backup: backupFrom(result.stdout) };
  }

  /** Put back what writeFile/removeFile replaced; a null backup means the file did not exist. */
  async restoreFile(path: string, backup: string | null): Promise<void> {
    const script =
      backup === null
        ? sh`rm -f -- ${path}`
        : sh`p=${path}
${RESOLVE}
mv -f -- ${backup} "$p"`;
    await this.runScript(`restore ${path}`, script);
  }

  async close(): Promise<void> {
    await this.connection.close?.();
  }
}

/** Connect, gather facts unless given (one more round trip), and return the host handle. */
export async function connectHost(target: SshTarget, opts: SshOptions, facts?: Facts, backupRoot = BACKUP_ROOT): Promise<RemoteHost> {
  const connection = await SshConnection.connect(target, opts);
  try {
    if (!facts) {
      const result = await connection.exec(joinArgv(['sh', '-c', FACTS_SCRIPT]));
      if (result.code !== 0) {
        throw new RemoteCommandError(target.name, 'gather facts', result.code, result.stderr, result.stdout);
      }
      facts = parseFacts(result.stdout);
    }
    return new RemoteHost(
      target.name,
      connection,
      facts,
      {
        connect: () => SshConnection.connect(target, opts),
        rebootCommand: target.rebootCommand ?? ['systemctl', 'reboot'],
      },
      backupRoot,
    );
  } catch (err) {
    await connection.close();
    throw err;
  }
}
