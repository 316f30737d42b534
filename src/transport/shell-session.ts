// One shell per connection that runs the host's commands one after another (issue 19). A channel
// costs the host more than most commands it runs: sshd forks a session process and starts the
// user's login shell for each one (about 7 ms of host CPU each, measured on the lab hosts). The
// session pays that once: a clean bash reads framed commands from the channel's stdin and runs
// each in a subshell, so a command cannot change the next one's shell (cd, exit, variables, traps).
//
// Framing, controller → host: `<script bytes> <stdin bytes or ->\n`, then the script, then the
// stdin (bash's `read -N` reads exactly that many bytes, in the C locale so bytes, not characters).
// Host → controller, after each command, on stdout and on stderr: `\n@NONCE@ end <status>\n`; the
// newline before the marker is the loop's own, so a command's output is exactly what precedes it.
// The loop announces itself with `\n@NONCE@ ready\n` on both streams: what the login shell printed
// before (an rc file's noise) is dropped, and a session that never got ready (no bash, sudo
// refused) is not an error of the command: it runs on a channel of its own instead.

import type { ClientChannel } from 'ssh2';
import { HvtuneError } from '../errors.js';
import type { CommandResult } from '../module.js';
import { quote } from '../quote.js';

/** The loop's variables are unset before a command runs: the command sees a clean shell. */
function loopScript(nonce: string): string {
  return `__hvt_m() { printf '\\n@%s@ %s\\n' ${nonce} "$1"; printf '\\n@%s@ %s\\n' ${nonce} "$1" >&2; }
__hvt_m ready
while IFS=' ' read -r __hvt_n __hvt_i; do
  __hvt_s=
  [ "$__hvt_n" -gt 0 ] 2>/dev/null && { LC_ALL=C IFS= read -r -N "$__hvt_n" __hvt_s || break; }
  if [ "$__hvt_i" = - ]; then
    ( eval "unset -v __hvt_n __hvt_i __hvt_s __hvt_c; unset -f __hvt_m
$__hvt_s" ) </dev/null
  else
    __hvt_c=
    [ "$__hvt_i" -gt 0 ] && { LC_ALL=C IFS= read -r -N "$__hvt_i" __hvt_c || break; }
    printf '%s' "$__hvt_c" | ( eval "unset -v __hvt_n __hvt_i __hvt_s __hvt_c; unset -f __hvt_m
$__hvt_s" )
  fi
  __hvt_m "end $?"
done`;
}

/** The command line that starts the session: bash without rc files, or exit 97 when there is none. */
export function sessionCommandLine(nonce: string): string {
  return `unset BASH_ENV ENV; command -v bash >/dev/null 2>&1 || exit 97; exec bash --noprofile --norc -c ${quote(loopScript(nonce))}`;
}

// A command line of quoted words only (joinArgv's form): one simple command, which the session's
// subshell may `exec` instead of forking once more for it. A bare first word has no `=`: it is a
// command name, not an assignment.
const BARE = '[A-Za-z0-9_@%+=:,./-]+';
const QUOTED = "'[^']*'(?:\\\\''[^']*')*";
const SIMPLE_COMMAND = new RegExp(`^(?:${BARE.replace('=', '')}|${QUOTED})(?: (?:${BARE}|${QUOTED}))*$`);

/** What the session evaluates for a command line: `exec` before one simple command. */
export function sessionScript(command: string): string {
  return SIMPLE_COMMAND.test(command) ? `exec ${command}` : command;
}

/**
 * The largest stdin sent through the session. The session reads a command's stdin whole before
 * the command starts; a larger one streams on a channel of its own, straight to its temp file.
 */
const SESSION_MAX_STDIN = 256 * 1024;

/** Whether a command's stdin can travel through the session (bash variables hold no NUL byte). */
export function sessionCanCarry(stdin: string | Buffer | undefined): boolean {
  if (stdin === undefined) return true;
  if (typeof stdin === 'string') return stdin.length <= SESSION_MAX_STDIN && !stdin.includes('\0');
  return stdin.length <= SESSION_MAX_STDIN && !stdin.includes(0);
}

/** One stream of the session: bytes, cut at the loop's markers. */
class MarkedStream {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes already searched, so a marker split across chunks is still found. */
  private searched = 0;
  ready = false;

  constructor(private readonly nonce: string) {}

  push(d: Buffer): void {
    this.chunks.push(d);
    this.size += d.length;
  }

  /** The next `@NONCE@ <word...>` line: the bytes before it and its words; null until one is complete. */
  next(): { before: Buffer; words: string[] } | null {
    if (this.size === 0) return null;
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [all];
    const marker = `\n@${this.nonce}@ `;
    const at = all.indexOf(marker, Math.max(0, this.searched - marker.length));
    if (at < 0) {
      this.searched = all.length;
      return null;
    }
    const eol = all.indexOf(10, at + marker.length);
    if (eol < 0) {
      this.searched = at;
      return null;
    }
    const before = all.subarray(0, at);
    const words = all
      .subarray(at + marker.length, eol)
      .toString('latin1')
      .split(' ');
    const rest = all.subarray(eol + 1);
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
    this.searched = 0;
    return { before, words };
  }
}

interface Running {
  shown: string;
  stdout?: Buffer;
  stdoutCode?: number;
  stderr?: Buffer;
  resolve(result: CommandResult | 'not-started'): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

export class ShellSession {
  private readonly out: MarkedStream;
  private readonly err: MarkedStream;
  private running: Running | null = null;
  private over = false;
  private channel?: ClientChannel;
  /** What was written before the channel opened. */
  private queued: (string | Buffer)[] = [];

  /** The channel that runs sessionCommandLine(nonce) comes with attach(); `connectionGone` tells a lost connection. */
  constructor(
    private readonly host: string,
    nonce: string,
    private readonly connectionGone: () => boolean,
  ) {
    this.out = new MarkedStream(nonce);
    this.err = new MarkedStream(nonce);
  }

  attach(channel: ClientChannel): void {
    this.channel = channel;
    channel.on('data', (d: Buffer) => {
      this.out.push(d);
      this.settle();
    });
    channel.stderr.on('data', (d: Buffer) => {
      this.err.push(d);
      this.settle();
    });
    channel.on('close', () => this.end());
    if (this.over) channel.end();
    else for (const piece of this.queued) channel.write(piece);
    this.queued = [];
  }

  /** The server would not open the channel: the session never starts. */
  refused(): void {
    this.end();
  }

  get ended(): boolean {
    return this.over;
  }

  /** Busy with a command, or gone: the caller opens a channel of its own instead. */
  get available(): boolean {
    return !this.over && this.running === null;
  }

  /**
   * Run one command line; 'not-started' when the session ended before it was ready (the command
   * did not run: run it on a channel of its own).
   */
  run(command: string, stdin: string | Buffer | undefined, shown: string, timeoutMs?: number): Promise<CommandResult | 'not-started'> {
    if (!this.available) return Promise.resolve('not-started');
    const script = Buffer.from(command);
    const input = stdin === undefined ? undefined : Buffer.from(stdin);
    return new Promise((resolve, reject) => {
      const running: Running = { shown, resolve, reject };
      this.running = running;
      if (timeoutMs) {
        running.timer = setTimeout(() => {
          // the loop and the subshell end with the channel; the session is not used again
          this.running = null;
          this.close();
          this.channel?.close();
          reject(new HvtuneError(`${this.host}: command timed out after ${Math.round(timeoutMs / 100) / 10}s: ${shown}`));
        }, timeoutMs);
      }
      this.write(`${script.length} ${input === undefined ? '-' : input.length}\n`);
      this.write(script);
      if (input !== undefined) this.write(input);
    });
  }

  private write(piece: string | Buffer): void {
    if (this.channel) this.channel.write(piece);
    else this.queued.push(piece);
  }

  /** Ends the loop (its stdin ends); a running command is left to finish on its own. */
  close(): void {
    if (this.over) return;
    this.over = true;
    this.channel?.end();
  }

  private settle(): void {
    for (;;) {
      const progressed = this.step();
      if (!progressed) return;
    }
  }

  /** Consume one marker from either stream; true if something moved. */
  private step(): boolean {
    for (const [stream, which] of [
      [this.out, 'out'],
      [this.err, 'err'],
    ] as const) {
      if (!stream.ready) {
        const m = stream.next();
        if (!m) continue;
        if (m.words[0] === 'ready') stream.ready = true;
        return true;
      }
      const r = this.running;
      if (!r || (which === 'out' ? r.stdout : r.stderr) !== undefined) continue;
      const m = stream.next();
      if (!m) continue;
      if (m.words[0] !== 'end') continue;
      if (which === 'out') {
        r.stdout = m.before;
        r.stdoutCode = Number(m.words[1]);
      } else r.stderr = m.before;
      if (r.stdout !== undefined && r.stderr !== undefined) {
        clearTimeout(r.timer);
        this.running = null;
        r.resolve({ stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), code: r.stdoutCode ?? null, signal: null });
      }
      return true;
    }
    return false;
  }

  private end(): void {
    this.over = true;
    const r = this.running;
    if (!r) return;
    this.running = null;
    clearTimeout(r.timer);
    if (!this.out.ready || !this.err.ready) r.resolve('not-started');
    else if (this.connectionGone()) r.reject(new HvtuneError(`${this.host}: connection lost while running: ${r.shown}`));
    else r.reject(new HvtuneError(`${this.host}: the host's shell session ended while running: ${r.shown}`));
  }
}
