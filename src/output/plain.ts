// Plain lines, for logs and pipes: one line per event, diffs inline when asked. Verbosity (`-v`
// levels): 1 each task as it starts and each change's target, effect and diff; 2 also each task's
// time and what its read observed; 3 (commands/play.ts) also every command line sent to a host.

import type { RunEvent } from '../events.js';
import { batchesLine, changeLine, colorDiff, crossCheckText, recapLines, taskWarnings, type Style } from './format.js';

export interface Renderer {
  handle(e: RunEvent): void;
  done(): Promise<void>;
}

/** A read's observation in one line, cut to a readable length. */
function observedLine(observed: unknown): string {
  const text = JSON.stringify(observed) ?? 'undefined';
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} characters)` : text;
}

export function plainRenderer(out: (s: string) => void, opts: { diff: boolean; verbose: boolean | number; style: Style }): Renderer {
  const s = opts.style;
  const diffs = sameDiffs();
  const printDiffs = () => {
    for (const { diff, hosts } of diffs.take()) {
      out(s.bold(hosts.length > 1 ? `same diff on ${hosts.join(', ')}:` : `diff on ${hosts[0]}:`));
      out(colorDiff(diff, s).replace(/^/gm, '    ').trimEnd());
    }
  };
  const level = Number(opts.verbose);
  const started = new Map<string, number>();
  const took = (host: string, id: number) => {
    const t = started.get(`${host}#${id}`);
    return level >= 2 && t !== undefined ? s.dim(` (${((Date.now() - t) / 1000).toFixed(2)} s)`) : '';
  };
  return {
    handle(e) {
      switch (e.type) {
        case 'play-start':
          diffs.hostOrder(e.hosts);
          out(s.bold(`PLAY [${e.play}] on ${e.hosts.length} host(s)${e.check ? ' (check mode)' : ''}`));
          if (e.batches) out(batchesLine(e.batches));
          break;
        case 'batch-start':
          out(s.bold(`BATCH ${e.batch}/${e.of}: ${e.hosts.join(' ')}`));
          break;
        case 'task-start':
          started.set(`${e.host}#${e.id}`, Date.now());
          if (level >= 1) out(s.dim(`${e.host} | ${e.task}…`));
          break;
        case 'task-planned':
          // a secret task's observation is the secret itself: never printed
          if (level >= 2 && !e.planned.secret) out(s.dim(`${e.host} | ${e.planned.task} | read: ${observedLine(e.observed)}`));
          break;
        case 'task-done': {
          const head = `${e.host} | ${e.handler ? 'handler ' : ''}${e.task}`;
          const time = took(e.host, e.id);
          if (e.status === 'failed') out(s.red(`${head} | FAILED: ${e.error}`) + time);
          else if (e.status === 'skipped') out(s.dim(`${head} | skipped (${e.reason})`) + time);
          else if (e.status === 'ok') out(s.green(`${head} | ok`) + time);
          else {
            out(s.yellow(`${head} | changed`) + time);
            for (const c of e.changes) {
              out(`    ${changeLine(c, s)}`);
              if (level >= 1) out(s.dim(`      target ${c.target}, effect ${c.effect}`));
              // a fleet often gets the same file: with --diff each diff is printed once, with its
              // hosts, at the play's end; -v alone shows it in place
              if (opts.diff && c.diff) diffs.add(c.diff, e.host);
              else if (level >= 1 && c.diff) out(colorDiff(c.diff, s).replace(/^/gm, '    ').trimEnd());
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
        case 'play-end':
          printDiffs();
          break;
        case 'run-end':
          printDiffs();
          out('');
          for (const l of recapLines(e.report, s)) out(l);
          break;
      }
    },
    done: async () => undefined,
  };
}

/** Diffs by their text, each with the hosts that would get it, hosts in the play's (inventory) order. */
export function sameDiffs() {
  const byText = new Map<string, string[]>();
  let order: string[] = [];
  return {
    hostOrder(hosts: string[]) {
      order = hosts;
    },
    add(diff: string, host: string) {
      const hosts = byText.get(diff) ?? byText.set(diff, []).get(diff)!;
      if (!hosts.includes(host)) hosts.push(host);
    },
    /** The diffs so far, and forget them. */
    take(): { diff: string; hosts: string[] }[] {
      const rank = (h: string) => (order.includes(h) ? order.indexOf(h) : order.length);
      const list = [...byText].map(([diff, hosts]) => ({ diff, hosts: hosts.sort((a, b) => rank(a) - rank(b)) }));
      byText.clear();
      return list;
    },
  };
}
