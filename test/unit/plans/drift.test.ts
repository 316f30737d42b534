import { describe, expect, it } from 'vitest';
import type { Change } from '../../../src/module.js';
import { driftFromBaseline, driftFromPlan } from '../../../src/drift.js';
import { driftLine } from '../../../src/output/state.js';
import { fallbackSnapshot, parseBaseline, serialiseBaseline, taskSnapshot, type Baseline } from '../../../src/baseline.js';
import { sysctl } from '../../../modules/sysctl.js';

const where = { task: 'timers', module: 'sysctl' };
const liveChange: Change = { summary: 'set a', target: 'sysctl:a', effect: 'live', before: '45', after: '30' };
const fileChange: Change = {
  summary: 'persist a in /etc/sysctl.d/x.conf',
  target: '/etc/sysctl.d/x.conf',
  effect: 'persistent',
  diff: { path: '/etc/sysctl.d/x.conf', before: null, after: 'a = 30\n' },
};

describe('drift against a playbook: a check run classified per setting', () => {
  it('with the module settings: live and persisted drift, expected and actual', () => {
    const items = driftFromPlan(
      where,
      { changes: [liveChange, fileChange] },
      {
        a: { desired: '30', persisted: null, live: '45' },
        b: { desired: '1', persisted: '1', live: '1' },
      },
    );
    expect(items).toEqual([
      { ...where, setting: 'sysctl:a', kind: 'live', expected: '30', actual: '45' },
      { ...where, setting: 'sysctl:a', kind: 'persisted', expected: '30', actual: null },
    ]);
    expect(driftLine('hv2', items[0])).toBe('hv2  sysctl:a  drifted live: expected "30", actual "45"');
  });

  it('zero is a value, not an absence', () => {
    expect(driftFromPlan(where, { changes: [] }, { a: { desired: '0', persisted: '0', live: '0' } })).toEqual([]);
    expect(driftFromPlan(where, { changes: [] }, { a: { desired: '0', persisted: '0', live: '1' } })).toHaveLength(1);
  });

  it('without settings: changes by effect, files as persisted, restarts and pending named', () => {
    const items = driftFromPlan(
      { task: 't', module: 'm' },
      {
        changes: [liveChange, fileChange, { summary: 'cmdline', target: 'grub:x', effect: 'reboot', before: null, after: 'x=1' }],
        pending: [{ effect: 'reboot', target: 'cmdline:hugepages', summary: 'hugepages=4 is persisted, not live' }],
      },
    );
    expect(items.map((i) => [i.setting, i.kind, i.expected, i.actual, i.effect])).toEqual([
      ['sysctl:a', 'live', '30', '45', undefined],
      ['/etc/sysctl.d/x.conf', 'persisted', '1 line(s)', 'absent', undefined],
      ['grub:x', 'persisted', 'x=1', null, 'reboot'],
      ['cmdline:hugepages', 'pending', null, null, 'reboot'],
    ]);
    expect(driftLine('hv1', items[3])).toBe('hv1  cmdline:hugepages  pending reboot: hugepages=4 is persisted, not live');
  });
});

describe('drift against a baseline', () => {
  const base = { task: 'timers', module: 'sysctl', args: {}, settings: { a: { desired: '30', persisted: '30', live: '30' } } };

  it('is clean when live and persisted are as recorded, whatever the desired value now', () => {
    expect(driftFromBaseline(base, { settings: { a: { desired: '31', persisted: '30', live: '30' } } })).toEqual([]);
  });

  it('names live and persisted differences with the recorded value as expected', () => {
    expect(driftFromBaseline(base, { settings: { a: { desired: '30', persisted: null, live: '45' } } })).toEqual([
      { ...where, setting: 'sysctl:a', kind: 'live', expected: '30', actual: '45' },
      { ...where, setting: 'sysctl:a', kind: 'persisted', expected: '30', actual: null },
    ]);
  });

  it('compares the Observed hash for modules without a snapshot hook', () => {
    const fb = { ...base, module: 'm', settings: {}, state: 'sha256:1' };
    expect(driftFromBaseline(fb, { settings: {}, state: 'sha256:1' })).toEqual([]);
    expect(driftFromBaseline(fb, { settings: {}, state: 'sha256:2' })[0]).toMatchObject({
      kind: 'state',
      expected: 'sha256:1',
      actual: 'sha256:2',
    });
  });
});

describe('snapshots', () => {
  const observed = {
    keys: {
      'net.ipv4.tcp_rmem': { live: '4096\t131072\t6291456', writable: true },
      'net.ipv4.tcp_fin_timeout': { live: '0', writable: true },
    },
    file: { path: '/etc/sysctl.d/90-hvtune.conf', content: 'net.ipv4.tcp_fin_timeout = 30\n' },
    bootFiles: { '/etc/sysctl.d/90-hvtune.conf': 'stale', '/usr/lib/sysctl.d/50-x.conf': 'net.ipv4.tcp_rmem = 4096 87380 6291456\n' },
    availableCongestion: null,
  };
  const args = { values: { 'net.ipv4.tcp_rmem': '4096 87380  6291456', 'net.ipv4.tcp_fin_timeout': 30 } };

  it('sysctl: desired, persisted at boot (own file as read) and live, normalised', () => {
    expect(sysctl.snapshot(args, observed)).toEqual({
      'net.ipv4.tcp_rmem': { desired: '4096 87380 6291456', persisted: '4096 87380 6291456', live: '4096 131072 6291456' },
      'net.ipv4.tcp_fin_timeout': { desired: '30', persisted: '30', live: '0' },
    });
  });

  it('sysctl: restore turns a live change back and leaves files to the engine', () => {
    expect(
      sysctl.restore({
        summary: 's',
        target: 'sysctl:a.b',
        effect: 'live',
        before: '60',
        after: '30',
        data: { kind: 'live', key: 'a.b', path: '/proc/sys/a/b', value: '30' },
      }),
    ).toEqual({
      summary: 'restore a.b',
      target: 'sysctl:a.b',
      effect: 'live',
      before: '30',
      after: '60',
      data: { kind: 'live', key: 'a.b', path: '/proc/sys/a/b', value: '60' },
    });
    expect(sysctl.restore(fileChange)).toBeNull();
  });

  it('fallback: changed targets with their values, and a stable hash of the Observed', () => {
    const f = fallbackSnapshot({ b: 1, a: [0] }, [liveChange, fileChange]);
    expect(f.settings['sysctl:a']).toEqual({ desired: '30', persisted: null, live: '45' });
    expect(f.settings['/etc/sysctl.d/x.conf']).toEqual({
      desired: expect.stringMatching(/^sha256:[0-9a-f]{16} \(7 bytes\)$/),
      persisted: null,
      live: null,
    });
    expect(fallbackSnapshot({ a: [0], b: 1 }, []).state).toBe(f.state);
  });

  it('a baseline serialises byte-identically from the same data in any key order, and parses back', () => {
    const b: Baseline = {
      host: 'hv1',
      tasks: [
        {
          task: 'timers',
          module: 'sysctl',
          args: { values: { z: 1, a: 2 }, file: '/etc/x.conf' },
          ...taskSnapshot(sysctl, args, observed, []),
        },
      ],
    };
    const reordered: Baseline = { host: 'hv1', tasks: [{ ...b.tasks[0], args: { file: '/etc/x.conf', values: { a: 2, z: 1 } } }] };
    const text = serialiseBaseline(b);
    expect(serialiseBaseline(reordered)).toBe(text);
    expect(text).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
    expect(text.indexOf('net.ipv4.tcp_fin_timeout')).toBeLessThan(text.indexOf('net.ipv4.tcp_rmem'));
    expect(parseBaseline(text, 'hv1.yml').tasks[0].settings['net.ipv4.tcp_fin_timeout']).toEqual({
      desired: '30',
      persisted: '30',
      live: '0',
    });
    expect(() => parseBaseline('host: hv1\n', 'hv1.yml')).toThrow(/hv1\.yml: not a baseline/);
  });
});
