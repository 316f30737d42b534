// Terminal progress: listr2, a counter ("23/60 done") over a row per host now working, with the
// task running and its counts, and a row per failed host, kept (output/fleet-view.ts chooses them,
// so a fleet fits the terminal); diffs, warnings and the recap are printed once the rows are done
// so they do not fight the spinner.

import { Listr, type ListrTaskWrapper } from 'listr2';
import type { HostRecap, RunEvent, RunReport } from '../events.js';
import { batchesLine, changeLine, colorDiff, crossCheckText, recapLines, taskWarnings, type Style } from './format.js';
import { FleetView } from './fleet-view.js';
import type { Renderer } from './plain.js';

type Wrapper = ListrTaskWrapper<unknown, any, any>;

/**
 * listr2 draws a task only while it is enabled (its renderer checks on every frame); the field
 * is not in its types. Hiding rows this way keeps listr2's own drawing of the ones shown.
 */
function setShown(task: Wrapper | undefined, shown: boolean): void {
  if (task) (task.task as unknown as { enabled: boolean }).enabled = shown;
}

/** A row whose promise ends when the run does: the counter and the "more" note. */
function pendingRow(): { promise: Promise<void>; resolve(): void; task?: Wrapper } {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => (resolve = res));
  return { promise, resolve };
}

interface Row {
  resolve(): void;
  reject(err: Error): void;
  task?: Wrapper;
  title: string;
  counts: { ok: number; changed: number; failed: number; skipped: number };
}

export function listrRenderer(hosts: string[], out: (s: string) => void, opts: { diff: boolean; style: Style; rows?: number }): Renderer {
  const s = opts.style;
  const rows = new Map<string, Row>();
  const details = new Map<string, string[]>();
  let report: RunReport | undefined;
  const view = new FleetView(hosts, opts.rows ?? process.stdout.rows ?? 24);
  const counter = pendingRow();
  const more = pendingRow();
  /** Show the rows the view chooses, with its counter and note. */
  const redraw = () => {
    const frame = view.frame();
    const shown = new Set(frame.shown);
    if (counter.task) counter.task.title = s.bold(frame.counter);
    for (const [host, row] of rows) setShown(row.task, shown.has(host));
    if (more.task) {
      setShown(more.task, frame.more !== null);
      if (frame.more) more.task.title = s.dim(frame.more);
    }
  };

  const tasks = hosts.map((host) => {
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const row: Row = { resolve, reject, title: host, counts: { ok: 0, changed: 0, failed: 0, skipped: 0 } };
    rows.set(host, row);
    return {
      title: host,
      task: (_ctx: unknown, task: Wrapper) => {
        row.task = task;
        task.title = row.title;
        redraw();
        return promise;
      },
    };
  });
  const fixed = (row: ReturnType<typeof pendingRow>) => ({
    title: '',
    task: (_ctx: unknown, task: Wrapper) => {
      row.task = task;
      redraw();
      return row.promise;
    },
  });
  const listr = new Listr([fixed(counter), ...tasks, fixed(more)], {
    concurrent: true,
    exitOnError: false,
    rendererOptions: { collapseErrors: false },
  });
  const running = listr.run().catch(() => undefined);

  const setTitle = (host: string, title: string) => {
    const row = rows.get(host);
    if (!row) return;
    row.title = title;
    if (row.task) row.task.title = title;
  };
  const countsText = (c: Row['counts']) =>
    `ok=${c.ok} changed=${c.changed}${c.failed ? ` failed=${c.failed}` : ''}${c.skipped ? ` skipped=${c.skipped}` : ''}`;
  const note = (host: string, line: string) => {
    const list = details.get(host) ?? [];
    list.push(line);
    details.set(host, list);
  };

  return {
    handle(e: RunEvent) {
      view.handle(e);
      switch (e.type) {
        case 'task-start': {
          const row = rows.get(e.host);
          if (row) setTitle(e.host, `${e.host}: ${e.task} ${s.dim(`(${countsText(row.counts)})`)}`);
          break;
        }
        case 'task-done': {
          const row = rows.get(e.host);
          if (row) {
            if (e.status === 'changed') row.counts.changed++;
            if (e.status !== 'failed' && e.status !== 'skipped') row.counts.ok++;
            if (e.status === 'failed') row.counts.failed++;
            if (e.status === 'skipped') row.counts.skipped++;
          }
          if (e.status === 'failed') note(e.host, s.red(`${e.task}: FAILED: ${e.error}`));
          for (const c of e.changes) {
            note(e.host, `${s.yellow('changed')} ${e.task}: ${changeLine(c, s)}`);
            if (opts.diff && c.diff) note(e.host, colorDiff(c.diff, s).trimEnd());
          }
          for (const w of taskWarnings(e)) note(e.host, s.yellow(`warning (${e.task}): ${w}`));
          break;
        }
        case 'host-unreachable':
          note(e.host, s.red(`UNREACHABLE: ${e.error}`));
          break;
        case 'warning':
          note('', s.yellow(`warning: ${e.message}`));
          break;
        case 'host-failed':
          note(e.host, s.red(`FAILED: ${e.error}`));
          break;
        case 'cross-check':
          note(e.host, (e.severity === 'error' ? s.red : s.yellow)(crossCheckText(e)));
          break;
        case 'play-start':
          if (e.batches) note('', `PLAY [${e.play}] ${batchesLine(e.batches)}`);
          break;
        case 'run-end':
          report = e.report;
          for (const [host, row] of rows) finish(host, row, e.report.recap[host]);
          counter.resolve();
          more.resolve();
          break;
      }
      if (e.type === 'host-start' || e.type === 'host-done' || e.type === 'play-start' || e.type === 'run-end') redraw();
      else if (e.type === 'task-done' && e.status === 'failed') redraw();
      else if (e.type === 'host-unreachable' || e.type === 'host-failed') redraw();
    },
    async done() {
      await running;
      for (const [host, lines] of details) {
        if (!lines.length) continue;
        out(s.bold(host ? `── ${host}` : '──'));
        for (const l of lines) out(l);
      }
      if (report) {
        out('');
        for (const l of recapLines(report, s)) out(l);
      }
    },
  };

  function finish(host: string, row: Row, recap: HostRecap | undefined) {
    if (!recap) {
      setTitle(host, `${host}: ${report?.untouched.includes(host) ? 'never touched (the run stopped)' : 'not in any play'}`);
      return row.resolve();
    }
    setTitle(host, `${host}: ${recap.unreachable ? 'unreachable' : countsText(row.counts)}`);
    if (recap.unreachable || recap.failed) row.reject(new Error(`${host}: ${recap.unreachable ? 'unreachable' : 'failed'}`));
    else row.resolve();
  }
}
