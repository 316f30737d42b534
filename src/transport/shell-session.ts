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
//
// A `hold` frame (stdin field `H`) runs in the loop's own shell, not a subshell: what it opens
// stays open while the session lasts. The host lock is taken so (its fd 9 held by the loop, closed
// in every command's subshell), and ends with the session, as it did with a channel of its own.

import type { ClientChannel } from 'ssh2';
import { HvtuneError } from '../errors.js';
import type { CommandResult } from '../module.js';
import { quote } from '../quote.js';

/** The loop's variables are unset before a command runs: the command sees a clean shell. */
function loopScript(nonce: string): string {
  const clean = 'unset -v __hvt_n __hvt_i __hvt_s __hvt_c; unset -f __hvt_m __hvt_h';
  return `__hvt_m() { printf '\\n@%s@ %s\\n' ${nonce} "$1"; printf '\\n@%s@ %s\\n' ${nonce} "$1" >&2; }
__hvt_h() { eval "$1"; }
__hvt_m "ready $$"
while IFS=' ' read -r __hvt_n __hvt_i; do
  __hvt_s=
  [ "$__hvt_n" -gt 0 ] 2>/dev/null && { LC_ALL=C IFS= read -r -N "$__hvt_n" __hvt_s || break; }
  if [ "$__hvt_i" = H ]; then
    __hvt_h "$__hvt_s" </dev/null
  elif [ "$__hvt_i" = - ]; then
    ( eval "${clean}
$__hvt_s" ) </dev/null 9>&-
  else
    __hvt_c=
    [ "$__hvt_i" -gt 0 ] && { LC_ALL=C IFS= read -r -N "$__hvt_i" __hvt_c || break; }
    printf '%s' "$__hvt_c" | ( eval "${clean}
$__hvt_s" ) 9>&-
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

/** Builtins with no program of the same name: `exec` would not find them. */
const BUILTINS_ONLY = new Set(
  '. : alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs disown enable eval exec exit export fc fg getopts hash help history jobs let local logout mapfile popd pushd read readarray readonly return set shift shopt source suspend times trap type typeset ulimit umask unalias unset wait'.split(
    ' ',
  ),
);

/** What the session evaluates for a command line: `exec` before one simple command. */
export function sessionScript(command: string): string {
  if (!SIMPLE_COMMAND.test(command)) return command;
  const space = command.indexOf(' ');
  const first = space < 0 ? command : command.slice(0, space);
  return BUILTINS_ONLY.has(first) ? command : `exec ${command}`;
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
  private readonly marker: Buffer;
  /** The last bytes seen, so a marker split across chunks is still noticed. */
  private tail: Buffer = Buffer.alloc(0);
  /** A marker may be in what is held: only then is it joined and cut (a long output is not joined per chunk). */
  private maybe = false;
  ready = false;

  constructor(nonce: string) {
    this.marker = Buffer.from(`\n@${nonce}@ `);
  }

  push(d: Buffer): void {
    this.chunks.push(d);
    const window = this.tail.length ? Buffer.concat([this.tail, d]) : d;
    if (!this.maybe && window.includes(this.marker)) this.maybe = true;
    this.tail = Buffer.from(window.subarray(Math.max(0, window.length - 2 * this.marker.length - 16)));
  }

  /** The next `@NONCE@ <word...>` line: the bytes before it and its words; null until one is complete. */
  next(): { before: Buffer; words: string[] } | null {
    if (!this.maybe) return null;
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [all];
    const at = all.indexOf(this.marker);
    const eol = at < 0 ? -1 : all.indexOf(10, at + this.marker.length);
    if (eol < 0) {
      this.maybe = at >= 0; // the marker's line is not complete yet
      return null;
    }
    const before = all.subarray(0, at);
    const words = all
      .subarray(at + this.marker.length, eol)
      .toString('latin1')
      .split(' ');
    const rest = all.subarray(eol + 1);
    this.chunks = rest.length ? [rest] : [];
    this.maybe = rest.includes(this.marker);
    return { before, words };
  }
}

interface Job {
  frame: Buffer;
  shown: string;
  timeoutMs?: number;
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
  private running: Job | null = null;
  /** Commands waiting for the one running: the session runs them in the order given. */
  private readonly waiting: Job[] = [];
  private over = false;
  private channel?: ClientChannel;
  /** Settles once the session's channel has closed. */
  readonly closed: Promise<void>;
  private markClosed!: () => void;

  /** The loop shell's PID on the host, as its ready marker says. */
  pid?: string;

  /** The channel that runs sessionCommandLine(nonce) comes with attach(); `connectionGone` tells a lost connection. */
  constructor(
    private readonly host: string,
    nonce: string,
    private readonly connectionGone: () => boolean,
    /** Kills a process on the host by PID, on a channel of its own (the loop, after a timeout). */
    private readonly kill: (pid: string) => void,
  ) {
    this.out = new MarkedStream(nonce);
    this.err = new MarkedStream(nonce);
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
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
    channel.on('close', () => {
      this.end();
      this.markClosed();
    });
    if (this.over) channel.end();
    else this.pump();
  }

  /** The server would not open the channel: the session never starts. */
  refused(): void {
    this.end();
    this.markClosed();
  }

  get ended(): boolean {
    return this.over;
  }

  /** The loop started on the host (it said so): a session that ended later is not a host without one. */
  get wasReady(): boolean {
    return this.out.ready && this.err.ready;
  }

  /**
   * Run one command line, after the ones before it; 'not-started' when the session ended before
   * it ran (run it on a channel of its own). `hold`: in the loop's own shell (see above).
   */
  run(
    command: string,
    stdin: string | Buffer | undefined,
    shown: string,
    opts: { timeoutMs?: number; hold?: boolean } = {},
  ): Promise<CommandResult | 'not-started'> {
    if (this.over) return Promise.resolve('not-started');
    const script = Buffer.from(command);
    const input = stdin === undefined ? undefined : Buffer.from(stdin);
    const header = Buffer.from(`${script.length} ${opts.hold ? 'H' : input === undefined ? '-' : input.length}\n`);
    // one write: the header, the script and its stdin go out in as few packets as they fit
    const frame = Buffer.concat(input === undefined || opts.hold ? [header, script] : [header, script, input]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ frame, shown, timeoutMs: opts.timeoutMs, resolve, reject });
      this.pump();
    });
  }

  /** Start the next command once the channel is open and the one before has ended. */
  private pump(): void {
    if (!this.channel || this.running || this.over) return;
    const job = this.waiting.shift();
    if (!job) return;
    this.running = job;
    if (job.timeoutMs) {
      const timeoutMs = job.timeoutMs;
      job.timer = setTimeout(() => {
        // the session is not used again: its shell is killed (it would wait for the command, and
        // keep what it holds, the host lock, until then; sshd does not pass a channel's signal on)
        // and its channel closed. The command itself runs on, as one on a channel of its own does.
        this.running = null;
        if (this.pid) this.kill(this.pid);
        this.close();
        this.channel?.close();
        job.reject(new HvtuneError(`${this.host}: command timed out after ${Math.round(timeoutMs / 100) / 10}s: ${job.shown}`));
      }, timeoutMs);
    }
    this.channel.write(job.frame);
  }

  /** Ends the loop (its stdin ends); a running command is left to finish on its own. */
  close(): void {
    if (this.over) return;
    this.over = true;
    this.channel?.end();
  }

  private settle(): void {
    while (this.step());
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
        if (m.words[0] === 'ready') {
          stream.ready = true;
          if (which === 'out' && /^\d+$/.test(m.words[1] ?? '')) this.pid = m.words[1];
        }
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
        this.pump();
      }
      return true;
    }
    return false;
  }

  private end(): void {
    this.over = true;
    const r = this.running;
    this.running = null;
    // what never started can run elsewhere
    for (const job of this.waiting.splice(0)) job.resolve('not-started');
    if (!r) return;
    clearTimeout(r.timer);
    if (!this.wasReady) r.resolve('not-started');
    else if (this.connectionGone()) r.reject(new HvtuneError(`${this.host}: connection lost while running: ${r.shown}`));
    else r.reject(new HvtuneError(`${this.host}: the host's shell session ended while running: ${r.shown}`));
  }
}
