// SIGINT/SIGTERM handling (issue 15, finding 10): a command that can stop gracefully hears the
// first signal as "start nothing new"; a second one, or the first in any other command, aborts.
import { describe, expect, it } from 'vitest';
import { Interrupt } from '../../src/interrupt.js';

describe('Interrupt', () => {
  it('graceful: the first signal aborts the run signal only, the second runs the abort hooks', () => {
    const i = new Interrupt();
    const wrote: string[] = [];
    i.atAbort(() => wrote.push('record'));
    i.graceful();
    expect(i.exitCode).toBeNull();
    expect(i.receive('SIGINT')).toBe('stopping');
    expect(i.signal.aborted).toBe(true);
    expect(i.signal.reason).toBe('SIGINT');
    expect(i.exitCode).toBe(130);
    expect(wrote).toEqual([]);
    expect(i.receive('SIGINT')).toBe('abort');
    expect(wrote).toEqual(['record']);
  });

  it('not graceful: the first signal aborts; SIGTERM exits 143; a failing hook does not stop the others', () => {
    const i = new Interrupt();
    const wrote: string[] = [];
    i.atAbort(() => {
      throw new Error('disk full');
    });
    i.atAbort(() => wrote.push('record'));
    expect(i.receive('SIGTERM')).toBe('abort');
    expect(i.exitCode).toBe(143);
    expect(wrote).toEqual(['record']);
  });
});
