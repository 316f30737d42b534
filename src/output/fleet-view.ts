// Which host rows a terminal shows while a run goes, so 60 hosts fit a 30-row terminal: the hosts
// now working and the ones that failed (kept), in inventory order, under a done/total counter.
// Hosts waiting for their turn and hosts done without failure are counted, not shown.

import type { RunEvent } from '../events.js';

/** Rows kept for the counter and for the "more" note. */
const RESERVED_ROWS = 3;
/** Failed hosts shown even when working hosts would fill the screen. */
const MIN_FAILED_ROWS = 3;

export interface FleetFrame {
  /** "PLAY [tcp] 23/60 done, 2 failed" */
  counter: string;
  /** the host rows to show, in inventory order */
  shown: string[];
  /** hosts of a kind shown that did not fit ("+4 more working") */
  more: string | null;
}

export class FleetView {
  private readonly order: Map<string, number>;
  private readonly working = new Set<string>();
  private readonly failed = new Set<string>();
  private play = '';
  private total = 0;
  private done = 0;
  private finished = false;

  /** `hosts` in inventory order; `rows` the terminal's height. */
  constructor(
    hosts: readonly string[],
    private readonly rows: number,
  ) {
    this.order = new Map(hosts.map((h, i) => [h, i]));
    this.total = hosts.length;
  }

  handle(e: RunEvent): void {
    switch (e.type) {
      case 'play-start':
        this.play = e.play;
        this.total = e.hosts.length;
        this.done = 0;
        break;
      case 'host-start':
        this.working.add(e.host);
        break;
      case 'task-done':
        if (e.status === 'failed') this.failed.add(e.host);
        break;
      case 'host-unreachable':
      case 'host-failed':
        this.failed.add(e.host);
        break;
      case 'host-done':
        if (this.working.delete(e.host)) this.done++;
        break;
      case 'run-end':
        this.finished = true;
        this.working.clear();
        break;
    }
  }

  frame(): FleetFrame {
    const byOrder = (a: string, b: string) => (this.order.get(a) ?? Infinity) - (this.order.get(b) ?? Infinity);
    const budget = Math.max(MIN_FAILED_ROWS + 1, this.rows - RESERVED_ROWS);
    const failed = [...this.failed].sort(byOrder);
    const working = [...this.working].filter((h) => !this.failed.has(h)).sort(byOrder);
    const failedRows = Math.min(failed.length, Math.max(MIN_FAILED_ROWS, budget - working.length));
    const workingRows = Math.min(working.length, budget - failedRows);
    const shown = new Set([...failed.slice(0, failedRows), ...working.slice(0, workingRows)]);
    const notes = [
      working.length > workingRows ? `+${working.length - workingRows} more working` : '',
      failed.length > failedRows ? `+${failed.length - failedRows} more failed (listed below)` : '',
    ].filter(Boolean);
    const head = this.play ? `PLAY [${this.play}] ` : '';
    const counts = [`${this.done}/${this.total} done`];
    if (!this.finished) counts.push(`${working.length} working`);
    if (failed.length) counts.push(`${failed.length} failed`);
    return { counter: head + counts.join(', '), shown: [...shown].sort(byOrder), more: notes.length ? notes.join(', ') : null };
  }
}
