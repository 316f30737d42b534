// `--junit FILE` (issue 17): the XML a CI system reads, parsed back as one would — a testsuite per
// play, a testcase per host × task, failure / skipped / system-out where they belong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { afterAll, describe, expect, it } from 'vitest';
import { lineinfile } from '../../../modules/lineinfile.js';
import type { Module } from '../../../src/module.js';
import { driftJunit, junitCollector } from '../../../src/output/junit.js';
import { runLocal } from '../engine/local-run.js';

const modules = new Map<string, Module>([['lineinfile', lineinfile as unknown as Module]]);
const dir = mkdtempSync(join(tmpdir(), 'hvtune-junit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Parse as a CI system would: any XML error fails the test. */
function parse(xml: string) {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => void errors.push(`${level}: ${msg}`) }).parseFromString(xml, 'text/xml');
  expect(errors).toEqual([]);
  return doc.documentElement!;
}
const children = (el: Element, name: string) => Array.from(el.getElementsByTagName(name));

describe('JUnit XML', () => {
  it('a testcase per host × task: changed with its summary, failed with its message, skipped; names escaped', async () => {
    const conf = join(dir, 'a.conf');
    writeFileSync(conf, '');
    const junit = junitCollector('hvtune play p.yml');
    const report = await runLocal(
      modules,
      [
        `{ name: 'set a <&"quoted">', lineinfile: { path: ${conf}, line: "a = 1 & <b>", regexp: "^a " } }`,
        `{ name: broken, lineinfile: { path: ${join(dir, 'none.conf')}, line: "x" } }`,
        `{ name: not here, lineinfile: { path: ${conf}, line: "y" }, when: false }`,
        `{ name: already, lineinfile: { path: ${conf}, line: "a = 1 & <b>", regexp: "^a " } }`,
      ],
      { check: true, onEvent: junit.onEvent },
    );
    expect(report.failures).toHaveLength(1);
    const root = parse(junit.xml());
    expect(root.tagName).toBe('testsuites');
    expect(root.getAttribute('name')).toBe('hvtune play p.yml');
    expect([root.getAttribute('tests'), root.getAttribute('failures'), root.getAttribute('skipped')]).toEqual(['4', '1', '1']);
    const suites = children(root, 'testsuite');
    expect(suites.map((s) => s.getAttribute('name'))).toEqual(['p']);
    const cases = children(suites[0], 'testcase');
    expect(cases.map((c) => [c.getAttribute('classname'), c.getAttribute('name')])).toEqual([
      ['local', 'set a <&"quoted">'],
      ['local', 'broken'],
      ['local', 'not here'],
      ['local', 'already'],
    ]);
    for (const c of cases) expect(Number(c.getAttribute('time'))).toBeGreaterThanOrEqual(0);
    const [changed, failed, skipped, ok] = cases;
    expect(children(changed, 'system-out')[0].textContent).toBe(`lineinfile: ${report.changes[0].summary}`);
    expect(children(changed, 'failure')).toHaveLength(0);
    const failure = children(failed, 'failure')[0];
    expect(failure.getAttribute('message')).toBe(`${join(dir, 'none.conf')} does not exist; set create: true to create it`);
    expect(failure.textContent).toBe(failure.getAttribute('message'));
    expect(children(skipped, 'skipped')[0].getAttribute('message')).toBe('condition false');
    expect(ok.childNodes.length).toBe(0);
  });

  it('drift: a task that would change is a failure; a baseline drift names host and setting; secrets scrubbed', () => {
    const junit = junitCollector('hvtune drift p.yml', { driftFails: true, scrub: (s) => s.replaceAll('s3cret', '<redacted>') });
    junit.onEvent({ type: 'play-start', play: 'tcp', index: 0, hosts: ['hv1'], check: true });
    junit.onEvent({ type: 'task-start', host: 'hv1', id: 1, task: 'fin', module: 'sysctl' });
    junit.onEvent({
      type: 'task-done',
      host: 'hv1',
      id: 1,
      task: 'fin',
      module: 'sysctl',
      status: 'changed',
      changes: [
        {
          host: 'hv1',
          task: 'fin',
          module: 'sysctl',
          summary: 'set token',
          target: 'sysctl:x',
          effect: 'live',
          before: 's3cret',
          after: '30',
          diff: null,
          warnings: [],
        },
      ],
      pending: [],
      warnings: [],
      handler: false,
    });
    junit.onEvent({ type: 'host-unreachable', host: 'hv2', error: 'connect ECONNREFUSED' });
    junit.onEvent({ type: 'play-end', play: 'tcp' });
    const xml = junit.xml();
    expect(xml).not.toContain('s3cret');
    const root = parse(xml);
    expect([root.getAttribute('tests'), root.getAttribute('failures'), root.getAttribute('errors')]).toEqual(['2', '1', '1']);
    const [drifted, unreachable] = children(root, 'testcase');
    expect(children(drifted, 'failure')[0].getAttribute('message')).toBe('drift: sysctl: set token: "<redacted>" → "30"');
    expect(children(unreachable, 'error')[0].getAttribute('type')).toBe('unreachable');

    const base = parse(
      driftJunit('hvtune drift baselines', {
        hv1: { status: 'clean', items: [] },
        hv2: {
          status: 'drift',
          items: [
            { task: 'fin', module: 'sysctl', setting: 'sysctl:net.ipv4.tcp_fin_timeout', kind: 'live', expected: '30', actual: '45' },
          ],
        },
      }),
    );
    const [clean, drift] = children(base, 'testcase');
    expect(clean.childNodes.length).toBe(0);
    expect(children(drift, 'failure')[0].textContent).toBe(
      'hv2  sysctl:net.ipv4.tcp_fin_timeout  drifted live: expected "30", actual "45"',
    );
  });

  it('characters XML cannot carry are dropped, not written', () => {
    const junit = junitCollector('x');
    junit.onEvent({ type: 'host-failed', host: 'hv1', error: 'bad \u0001byte\u0000 here' });
    const root = parse(junit.xml());
    expect(children(root, 'error')[0].textContent).toBe('bad byte here');
  });
});
