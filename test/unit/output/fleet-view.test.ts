// The bounded terminal view: 60 hosts, 10 at a time, a 30-row terminal.

import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/events.js';
import { FleetView } from '../../../src/output/fleet-view.js';

const hosts = Array.from({ length: 60 }, (_, i) => `hv${i + 1}`);
const taskDone = (host: string, status: 'ok' | 'failed'): RunEvent => ({
  type: 'task-done',
  host,
  id: 1,
  task: 't',
  module: 'sysctl',
  status,
  changes: [],
  pending: [],
  warnings: [],
  handler: false,
  ...(status === 'failed' ? { error: 'boom' } : {}),
});

function fleet(rows: number) {
  const view = new FleetView(hosts, rows);
  view.handle({ type: 'play-start', play: 'tcp', index: 0, hosts, check: true });
  return view;
}

describe('FleetView', () => {
  it('shows the working hosts only, in inventory order, under a done/total counter', () => {
    const view = fleet(30);
    // 23 done, then 10 working that started out of order
    for (const h of hosts.slice(0, 23)) {
      view.handle({ type: 'host-start', host: h });
      view.handle({ type: 'host-done', host: h });
    }
    for (const h of [...hosts.slice(23, 33)].reverse()) view.handle({ type: 'host-start', host: h });
    const frame = view.frame();
    expect(frame.counter).toBe('PLAY [tcp] 23/60 done, 10 working');
    expect(frame.shown).toEqual(hosts.slice(23, 33));
    expect(frame.more).toBeNull();
  });

  it('keeps failed hosts on screen after they are done, and fits the terminal', () => {
    const view = fleet(30);
    for (const h of hosts.slice(0, 40)) {
      view.handle({ type: 'host-start', host: h });
      view.handle(taskDone(h, ['hv3', 'hv17'].includes(h) ? 'failed' : 'ok'));
      view.handle({ type: 'host-done', host: h });
    }
    view.handle({ type: 'host-unreachable', host: 'hv41', error: 'refused' });
    for (const h of hosts.slice(41, 51)) view.handle({ type: 'host-start', host: h });
    const frame = view.frame();
    expect(frame.counter).toBe('PLAY [tcp] 40/60 done, 10 working, 3 failed');
    expect(frame.shown).toEqual(['hv3', 'hv17', 'hv41', ...hosts.slice(41, 51)]);
    expect(frame.shown.length + 2).toBeLessThanOrEqual(30);
  });

  it('too many to fit: a few failed rows stay, the rest are counted', () => {
    const view = fleet(12);
    for (const h of hosts.slice(0, 20)) {
      view.handle({ type: 'host-start', host: h });
      view.handle(taskDone(h, 'failed'));
      view.handle({ type: 'host-done', host: h });
    }
    for (const h of hosts.slice(20, 40)) view.handle({ type: 'host-start', host: h });
    const frame = view.frame();
    expect(frame.shown.length).toBe(12 - 3);
    expect(frame.shown.slice(0, 3)).toEqual(['hv1', 'hv2', 'hv3']);
    expect(frame.more).toBe('+14 more working, +17 more failed (listed below)');
    expect(frame.counter).toBe('PLAY [tcp] 20/60 done, 20 working, 20 failed');
  });

  it('at the end: the counter and the failures', () => {
    const view = fleet(30);
    for (const h of hosts) {
      view.handle({ type: 'host-start', host: h });
      if (h === 'hv9') view.handle(taskDone(h, 'failed'));
      view.handle({ type: 'host-done', host: h });
    }
    view.handle({
      type: 'run-end',
      report: {
        check: true,
        recap: {},
        changes: [],
        pending: [],
        failures: [],
        warnings: [],
        roundTrips: {},
        stopped: null,
        untouched: [],
        durationMs: 0,
      },
    });
    expect(view.frame()).toEqual({ counter: 'PLAY [tcp] 60/60 done, 1 failed', shown: ['hv9'], more: null });
  });
});
