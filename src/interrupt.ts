// SIGINT and SIGTERM (issue 15, finding 10). A command that changes hosts (`play`, `apply`) asks
// for a graceful stop: the first signal stops it from starting anything new (no host, no task)
// while the remote steps in flight finish, so it can still write its run record, release its
// locks and exit 130 (SIGINT) or 143 (SIGTERM). A second signal, or the first one in any other
// command, aborts at once: what registered with atAbort (the record so far) runs, then exit.

export type StopSignal = 'SIGINT' | 'SIGTERM';

/** The shell's convention: 128 + the signal's number. */
export const SIGNAL_EXIT: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

export class Interrupt {
  private readonly controller = new AbortController();
  /** Aborted by the first signal of a graceful command; its reason is the signal's name. */
  readonly signal: AbortSignal = this.controller.signal;
  private readonly atAbortHooks = new Set<() => void>();
  private gracefulStop = false;
  /** The last signal received, if any. */
  received: StopSignal | null = null;

  /** The command can stop gracefully: the first signal only aborts `signal`. */
  graceful(): void {
    this.gracefulStop = true;
  }

  /** Work to do if the process is aborted at once (sync: the process exits right after). */
  atAbort(hook: () => void): () => void {
    this.atAbortHooks.add(hook);
    return () => this.atAbortHooks.delete(hook);
  }

  /** The exit code of an interrupted run, or null when no signal came. */
  get exitCode(): number | null {
    return this.received ? SIGNAL_EXIT[this.received] : null;
  }

  /** A signal came: 'stopping' (go on, start nothing new) or 'abort' (the caller exits now). */
  receive(sig: StopSignal): 'stopping' | 'abort' {
    const first = this.received === null;
    this.received = sig;
    if (first && this.gracefulStop) {
      this.controller.abort(sig);
      return 'stopping';
    }
    if (!this.signal.aborted) this.controller.abort(sig);
    for (const hook of this.atAbortHooks) {
      try {
        hook();
      } catch {
        // exiting anyway: one failing hook must not keep the others from running
      }
    }
    return 'abort';
  }
}

/** Listen for SIGINT and SIGTERM on this process (bin/hvtune.js); `say` writes to stderr. */
export function installInterrupt(proc: NodeJS.Process, say: (line: string) => void): Interrupt {
  const interrupt = new Interrupt();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    proc.on(sig, () => {
      if (interrupt.receive(sig) === 'stopping') {
        say(
          `${sig}: stopping — no new host or task starts, the steps in flight finish; ${sig === 'SIGINT' ? 'Ctrl-C' : 'a second signal'} again aborts at once`,
        );
        return;
      }
      say(`${sig}: aborted`);
      proc.exit(SIGNAL_EXIT[sig]);
    });
  }
  return interrupt;
}
