// SSH handshakes are CPU work on the controller (key exchange, host key and user signatures). With
// `--forks 200` on a 2-core controller, 200 handshakes at once queue behind each other, and a host
// whose handshake waited 10 s for the CPU was reported unreachable although it answered at once.
// So at most a few handshakes per core are in flight, whatever --forks says, and a host's connect
// timeout starts when its own handshake starts: it measures the host, not the controller's backlog.

import { availableParallelism } from 'node:os';

/** Handshakes in flight: HVTUNE_HANDSHAKES, else 4 per core (at least 8). */
export function handshakeLimit(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.HVTUNE_HANDSHAKES);
  if (Number.isInteger(n) && n > 0) return n;
  return Math.max(8, 4 * availableParallelism());
}

/** A counting semaphore: run() waits for a slot, in the order callers asked. */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }

  /** Callers waiting for a slot (tests, diagnostics). */
  get queued(): number {
    return this.waiting.length;
  }
}

/** The controller's handshake slots, shared by every connection of the process. */
export const handshakeSlots = new Slots(handshakeLimit());
