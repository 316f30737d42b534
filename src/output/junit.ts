// `--junit FILE`: the run as JUnit XML, which CI systems show as test results — a testsuite per
// play, a testcase per host × task. Built from the same events the other renderers see.

import type { RunEvent } from '../events.js';
import type { HostDrift } from '../drift.js';
import { changeLine, noColors } from './format.js';
import { driftLine } from './state.js';

interface Case {
  host: string;
  name: string;
  seconds: number;
  failure?: { message: string; text: string; type: string };
  error?: { message: string; type: string };
  skipped?: string;
  out?: string;
}

interface Suite {
  name: string;
  cases: Case[];
  startedAt: number;
  seconds: number;
}

/** XML 1.0 has no way to write most control characters: they are dropped. */
const INVALID_XML = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
export const escapeXml = (s: string) =>
  s.replace(INVALID_XML, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const firstLine = (s: string) => s.split('\n')[0];
const secs = (ms: number) => (ms / 1000).toFixed(3);

/**
 * Collects a run's events. `driftFails`: a task that would change something is a failure (drift:
 * the host does not match), not only a changed testcase.
 */
export function junitCollector(name: string, opts: { driftFails?: boolean; scrub?: (s: string) => string } = {}) {
  const suites: Suite[] = [];
  const started = new Map<string, number>();
  const current = () => suites.at(-1) ?? suites[suites.push({ name, cases: [], startedAt: Date.now(), seconds: 0 }) - 1];
  return {
    onEvent(e: RunEvent): void {
      switch (e.type) {
        case 'play-start':
          suites.push({ name: e.play, cases: [], startedAt: Date.now(), seconds: 0 });
          break;
        case 'play-end': {
          const suite = current();
          suite.seconds = (Date.now() - suite.startedAt) / 1000;
          break;
        }
        case 'task-start':
          started.set(`${e.host}\0${e.id}`, Date.now());
          break;
        case 'task-done': {
          const at = started.get(`${e.host}\0${e.id}`);
          const c: Case = {
            host: e.host,
            name: `${e.handler ? 'handler: ' : ''}${e.task}`,
            seconds: at === undefined ? 0 : (Date.now() - at) / 1000,
          };
          if (e.status === 'failed') c.failure = { message: firstLine(e.error ?? 'failed'), text: e.error ?? 'failed', type: 'failed' };
          else if (e.status === 'skipped') c.skipped = e.reason ?? 'skipped';
          else if (e.status === 'changed') {
            const lines = [
              ...e.changes.map((ch) => `${e.module}: ${changeLine(ch, noColors)}`),
              ...e.pending.map((p) => `pending ${p.effect}: ${p.summary}`),
            ];
            c.out = lines.join('\n');
            if (opts.driftFails) c.failure = { message: `drift: ${firstLine(lines[0] ?? '')}`, text: c.out, type: 'drift' };
          }
          current().cases.push(c);
          break;
        }
        case 'host-unreachable':
          current().cases.push({ host: e.host, name: '(connect)', seconds: 0, error: { message: e.error, type: 'unreachable' } });
          break;
        case 'host-failed':
          current().cases.push({ host: e.host, name: '(host)', seconds: 0, error: { message: e.error, type: 'host-failed' } });
          break;
      }
    },
    xml(): string {
      return junitXml(name, suites, opts.scrub);
    },
  };
}

/** Drift against baselines (no run events): a testcase per host, a failure listing what drifted. */
export function driftJunit(name: string, hosts: Record<string, HostDrift>, scrub?: (s: string) => string): string {
  const cases: Case[] = Object.entries(hosts).map(([host, h]) => {
    const c: Case = { host, name: 'baseline', seconds: 0 };
    if (h.status === 'error') c.error = { message: h.error ?? 'error', type: 'error' };
    else if (h.status === 'drift') {
      const lines = h.items.map((i) => driftLine(host, i));
      c.failure = { message: `${h.items.length} setting(s) drifted`, text: lines.join('\n'), type: 'drift' };
    }
    return c;
  });
  return junitXml(name, [{ name, cases, startedAt: 0, seconds: 0 }], scrub);
}

/** `scrub` takes secret values out of every text before it is escaped (an escaped value would not match). */
function junitXml(name: string, suites: Suite[], scrub: (s: string) => string = (s) => s): string {
  const xmlText = (s: string) => escapeXml(scrub(s));
  const count = (cases: Case[], k: 'failure' | 'error' | 'skipped') => cases.filter((c) => c[k] !== undefined).length;
  const attrs = (cases: Case[]) =>
    `tests="${cases.length}" failures="${count(cases, 'failure')}" errors="${count(cases, 'error')}" skipped="${count(cases, 'skipped')}"`;
  const all = suites.flatMap((s) => s.cases);
  const total = suites.reduce((t, s) => t + s.seconds, 0);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="${xmlText(name)}" ${attrs(all)} time="${total.toFixed(3)}">`];
  suites.forEach((suite, i) => {
    lines.push(`  <testsuite name="${xmlText(suite.name)}" id="${i}" ${attrs(suite.cases)} time="${suite.seconds.toFixed(3)}">`);
    for (const c of suite.cases) {
      const head = `    <testcase classname="${xmlText(c.host)}" name="${xmlText(c.name)}" time="${secs(c.seconds * 1000)}"`;
      const body: string[] = [];
      if (c.failure)
        body.push(`      <failure message="${xmlText(c.failure.message)}" type="${c.failure.type}">${xmlText(c.failure.text)}</failure>`);
      if (c.error)
        body.push(
          `      <error message="${xmlText(firstLine(c.error.message))}" type="${c.error.type}">${xmlText(c.error.message)}</error>`,
        );
      if (c.skipped !== undefined) body.push(`      <skipped message="${xmlText(c.skipped)}"/>`);
      if (c.out) body.push(`      <system-out>${xmlText(c.out)}</system-out>`);
      lines.push(body.length ? `${head}>\n${body.join('\n')}\n    </testcase>` : `${head}/>`);
    }
    lines.push('  </testsuite>');
  });
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
