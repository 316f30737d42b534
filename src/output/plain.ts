// Plain lines, for logs and pipes: one line per event, diffs inline when asked.

import type { RunEvent } from '../events.js';
import { batchesLine, changeLine, colorDiff, crossCheckText, recapLines, taskWarnings, type Style } from './format.js';

export interface Renderer {
  handle(e: RunEvent): void;
  done(): Promise<void>;
}

export function plainRenderer(out: (s: string) => void, opts: { diff: boolean; verbose: boolean; style: Style }): Renderer {
  const s = opts.style;
  return {
    handle(e) {
      switch (e.type) {
        case 'play-start':
          out(s.bold(`PLAY [${e.play}] on ${e.hosts.length} host(s)${e.check ? ' (check mode)' : ''}`));
          if (e.batches) out(batchesLine(e.batches));
          break;
        case 'batch-start':
          out(s.bold(`BATCH ${e.batch}/${e.of}: ${e.hosts.join(' ')}`));
          break;
        case 'task-start':
          if (opts.verbose) out(s.dim(`${e.host} | ${e.task}…`));
          break;
        case 'task-done': {
          const head = `${e.host} | ${e.handler ? 'handler ' : ''}${e.task}`;
          if (e.status === 'failed') out(s.red(`${head} | FAILED: ${e.error}`));
          else if (e.status === 'skipped') out(s.dim(`${head} | skipped (${e.reason})`));
          else if (e.status === 'ok') out(s.green(`${head} | ok`));
          else {
            out(s.yellow(`${head} | changed`));
            for (const c of e.changes) {
              out(`    ${changeLine(c, s)}`);
              if (opts.diff && c.diff) out(colorDiff(c.diff, s).replace(/^/gm, '    ').trimEnd());
            }
          }
          for (const w of taskWarnings(e)) out(s.yellow(`    warning: ${w.replace(/\n/g, '\n    ')}`));
          for (const p of e.pending) if (e.status === 'ok') out(s.yellow(`    pending ${p.effect}: ${p.summary}`));
          break;
        }
        case 'host-unreachable':
          out(s.red(`${e.host} | UNREACHABLE: ${e.error}`));
          break;
        case 'warning':
          out(s.yellow(`warning: ${e.message}`));
          break;
        case 'cross-check':
          out((e.severity === 'error' ? s.red : s.yellow)(`${e.host} | ${crossCheckText(e)}`));
          break;
        case 'host-failed':
          out(s.red(`${e.host} | FAILED: ${e.error}`));
          break;
        case 'run-end':
          out('');
          for (const l of recapLines(e.report, s)) out(l);
          break;
      }
    },
    done: async () => undefined,
  };
}
