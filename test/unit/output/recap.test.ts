// The recap's round trips: each host up to ten, a summary beyond; hosts in inventory order.

import { describe, expect, it } from 'vitest';
import { emptyReport } from '../../../src/engine/report.js';
import { noColors, recapLines, roundTripsText } from '../../../src/output/format.js';

describe('round trips per host', () => {
  it('lists each host up to ten', () => {
    const few = Array.from({ length: 10 }, (_, i): [string, number] => [`hv${i + 1}`, i === 4 ? 3 : 2]);
    expect(roundTripsText(few)).toBe('hv1=2 hv2=2 hv3=2 hv4=2 hv5=3 hv6=2 hv7=2 hv8=2 hv9=2 hv10=2');
  });

  it('at 60 hosts: min, median, max and the hosts above the median, the most first', () => {
    const many = Array.from({ length: 60 }, (_, i): [string, number] => [`hv${i + 1}`, 2]);
    many[16][1] = 9; // hv17: a reboot
    many[2][1] = 4;
    expect(roundTripsText(many)).toBe('60 hosts, min 2, median 2, max 9; above the median: hv17=9, hv3=4');
    many.forEach((h, i) => {
      if (i >= 40) h[1] = 3 + (i % 3);
    });
    expect(roundTripsText(many)).toBe(
      '60 hosts, min 2, median 2, max 9; above the median: hv17=9, hv42=5, hv45=5, hv48=5, hv51=5, and 17 more',
    );
  });

  it('every host alike: no outliers named', () => {
    const same = Array.from({ length: 12 }, (_, i): [string, number] => [`hv${i + 1}`, 2]);
    expect(roundTripsText(same)).toBe('12 hosts, min 2, median 2, max 2');
  });

  it('the recap line uses it', () => {
    const report = emptyReport(false);
    for (let i = 1; i <= 30; i++) report.roundTrips[`hv${i}`] = 2;
    report.durationMs = 1500;
    // the summary line closes the recap; round trips come just before it
    expect(recapLines(report, noColors).at(-2)).toBe('round trips per host: 30 hosts, min 2, median 2, max 2; 1.50 s');
  });
});
