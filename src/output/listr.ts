// Terminal progress: listr2, one row per host with the task running and its counts; diffs,
// warnings and the recap are printed once the rows are done so they do not fight the spinner.

import { Listr, type ListrTaskWrapper } from 'listr2';
import type { HostRecap, RunEvent, RunReport } from '../events.js';
import { batchesLine, changeLine, colorDiff, crossCheckText, recapLines, taskWarnings, type Style } from './format.js';
import type { Renderer } from './plain.js';

interface Row {
  resolve(): void;
  reject(err: Error): void;
  task?: ListrTaskWrapper<unknown, any, any>;
  title: string;
  counts: { ok: number; changed: number; failed: number; skipped: number };
}

export function listrRenderer(hosts: string[], out: (s: string) => void, opts: { diff: boolean; style: Style }): Renderer {
  const s = opts.style;
  const rows = new Map<string, Row>();
  const details = new Map<string, string[]>();
  let report: RunReport | undefined;

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
      task: (_ctx: unknown, task: ListrTaskWrapper<unknown, any, any>) => {
        row.task = task;
        task.title = row.title;
        return promise;
      },
    };
  });
  const listr = new Listr(tasks, {
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
          break;
      }
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
