import { describe, expect, test } from 'vitest';
import { Slots, handshakeLimit } from '../../../src/transport/handshake-slots.js';

describe('handshake slots', () => {
  test('at most `size` at once, in the order asked, and a failure frees its slot', async () => {
    const slots = new Slots(3);
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    const work = (i: number) =>
      slots.run(async () => {
        started.push(i);
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (i === 4) throw new Error('refused');
        return i;
      });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => work(i)));
    expect(most).toBe(3);
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(slots.queued).toBe(0);
  });

  test('the limit: HVTUNE_HANDSHAKES, else 4 per core and at least 8', () => {
    expect(handshakeLimit({ HVTUNE_HANDSHAKES: '32' })).toBe(32);
    expect(handshakeLimit({ HVTUNE_HANDSHAKES: 'x' })).toBeGreaterThanOrEqual(8);
    expect(handshakeLimit({})).toBeGreaterThanOrEqual(8);
  });
});
