// The HostHandle modules use (src/module.ts), built on anything that can run a command line:
// an SshConnection in a run, a local shell in unit tests. Every method is one round trip.

import { spawn } from 'node:child_process';
import { HvtuneError, RemoteCommandError } from './errors.js';
import { FACTS_SCRIPT, parseFacts, type Facts } from './facts.js';
import type { CommandResult, HostHandle, ReadRequest, ReadResult } from './module.js';
import { joinArgv, raw, sh } from './quote.js';
import { buildReadScript, newNonce, parseReadOutput } from './transport/batch.js';
import { SshConnection, type ExecOptions, type HoldResult, type SshOptions, type SshTarget } from './transport/ssh.js';

/** Runs one command line on a host through its login shell. */
export interface Exec {
  exec(command: string, opts?: ExecOptions): Promise<CommandResult>;
  /** Commands run so far, when the transport counts them. */
  readonly roundTrips?: number;
  /** A command that runs on once ready, until close() (SshConnection.hold); not a round trip. */
  hold?(command: string, ready: (stdout: string) => boolean, opts?: { shown?: string }): Promise<HoldResult>;
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

export const BACKUP_SUFFIX = '.hvtune-backup';

/** A path is followed through a symlink so the link stays a link (like sed --follow-symlinks). */
const RESOLVE = raw(`if [ -L "$p" ]; then p=$(readlink -f -- "$p"); fi`);

function writeScript(path: string, opts: { mode?: number; owner?: string; group?: string; backup: boolean }): string {
  const mode = opts.mode === undefined ? raw('') : raw(sh`chmod ${opts.mode.toString(8)} "$t"`);
  const owner = opts.owner === undefined ? raw('') : raw(sh`chown ${opts.owner} "$t"`);
  const group = opts.group === undefined ? raw('') : raw(sh`chgrp ${opts.group} "$t"`);
  return sh`set -e
p=${path}
${RESOLVE}
if [ -d "$p" ]; then echo "$p is a directory" >&2; exit 1; fi
d=$(dirname -- "$p")
mkdir -p -- "$d"
t="$d/.$(basename -- "$p").hvtune-tmp.$$"
trap 'rm -f -- "$t"' EXIT
(umask 077 && cat >"$t")
if [ -e "$p" ]; then
  chmod "$(stat -c %a -- "$p")" "$t"
  chown "$(stat -c %u:%g -- "$p")" "$t" 2>/dev/null || true
else
  chmod 644 "$t"
fi
${mode}
${owner}
${group}
sync "$t" 2>/dev/null || true
b=
if [ ${opts.backup ? '1' : '0'} = 1 ] && [ -e "$p" ]; then
  b="$p"${BACKUP_SUFFIX}
  cp -p -- "$p" "$b"
fi
mv -f -- "$t" "$p"
sync "$d" 2>/dev/null || true
printf '%s' "$b"
`;
}

export class RemoteHost implements HostHandle {
  constructor(
    readonly name: string,
    readonly connection: Exec,
    /** Set after connecting; the runner may replace it with a fuller gatherer's facts. */
    public facts: Facts,
  ) {}

  /** Round trips made so far on this host's connection (`hvtune play -v`). */
  get roundTrips(): number {
    return this.connection.roundTrips ?? 0;
  }

  exec(argv: string[], opts?: ExecOptions): Promise<CommandResult> {
    return this.connection.exec(joinArgv(argv), opts);
  }

  /** Through `sh -c`, so the script runs in a POSIX shell whatever the user's login shell is. */
  sh(script: string, opts?: ExecOptions): Promise<CommandResult> {
    return this.connection.exec(joinArgv(['sh', '-c', script]), opts);
  }

  /** A script that runs on once `ready(stdout)` holds, until the host is closed (host-lock.ts); `what` names it in errors. */
  hold(what: string, script: string, ready: (stdout: string) => boolean): Promise<HoldResult> {
    if (!this.connection.hold) return Promise.reject(new HvtuneError(`${this.name}: this connection cannot hold a command open`));
    return this.connection.hold(joinArgv(['sh', '-c', script]), ready, { shown: what });
  }

  async run(argv: string[], opts?: ExecOptions): Promise<CommandResult> {
    const result = await this.exec(argv, opts);
    if (result.code !== 0) throw new RemoteCommandError(this.name, joinArgv(argv), result.code, result.stderr, result.stdout);
    return result;
  }

  /** Like run, for scripts: a non-zero exit throws, naming `what` instead of the whole script. */
  private async runScript(what: string, script: string, opts?: ExecOptions): Promise<CommandResult> {
    const result = await this.sh(script, opts);
    if (result.code !== 0) throw new RemoteCommandError(this.name, what, result.code, result.stderr, result.stdout);
    return result;
  }

  /** All requests in one round trip; the script travels on stdin, so its size is not limited by ARG_MAX. */
  async read(requests: ReadRequest[]): Promise<ReadResult[]> {
    if (requests.length === 0) return [];
    const nonce = newNonce();
    const result = await this.connection.exec('sh -s', { stdin: buildReadScript(requests, nonce) });
    try {
      return parseReadOutput(result.stdout, requests, nonce);
    } catch (err) {
      const detail = result.stderr.trim() ? `\n${result.stderr.trimEnd()}` : '';
      throw new HvtuneError(`${this.name}: ${(err as Error).message}${detail}`, undefined, { cause: err });
    }
  }

  async writeFile(
    path: string,
    content: string,
    opts: { mode?: number; owner?: string; group?: string; backup?: boolean } = {},
  ): Promise<{ backup: string | null }> {
    const script = writeScript(path, { ...opts, backup: opts.backup ?? true });
    const result = await this.runScript(`write ${path}`, script, { stdin: content });
    return { backup: result.stdout === '' ? null : result.stdout };
  }

  async removeFile(path: string, opts: { backup?: boolean } = {}): Promise<{ backup: string | null }> {
    const keep = opts.backup ?? true;
    const script = sh`p=${path}
if [ -e "$p" ] || [ -L "$p" ]; then
  if [ ${keep ? '1' : '0'} = 1 ]; then mv -f -- "$p" "$p"${BACKUP_SUFFIX} && printf '%s' "$p"${BACKUP_SUFFIX}; else rm -f -- "$p"; fi
fi`;
    const result = await this.runScript(`remove ${path}`, script);
    return { backup: result.stdout === '' ? null : result.stdout };
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
export async function connectHost(target: SshTarget, opts: SshOptions, facts?: Facts): Promise<RemoteHost> {
  const connection = await SshConnection.connect(target, opts);
  try {
    if (!facts) {
      const result = await connection.exec(joinArgv(['sh', '-c', FACTS_SCRIPT]));
      if (result.code !== 0) {
        throw new RemoteCommandError(target.name, 'gather facts', result.code, result.stderr, result.stdout);
      }
      facts = parseFacts(result.stdout);
    }
    return new RemoteHost(target.name, connection, facts);
  } catch (err) {
    await connection.close();
    throw err;
  }
}
