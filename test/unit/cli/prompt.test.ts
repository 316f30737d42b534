// -K's prompt: no echo on a terminal (raw mode, the answer never written back), a pipe's first line.

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { askSecret } from '../../../src/prompt.js';

function output() {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d));
  return { out, text: () => text };
}

describe('askSecret', () => {
  it('on a terminal: raw mode while typing, backspace edits, nothing of the answer echoed', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, modes: [] as boolean[] });
    const tty = Object.assign(input, { setRawMode: (m: boolean) => input.modes.push(m) });
    const { out, text } = output();
    const answer = askSecret('BECOME password: ', tty, out);
    tty.write('pw-x\u007fy');
    tty.write('z\r');
    expect(await answer).toBe('pw-yz');
    expect(input.modes).toEqual([true, false]);
    expect(text()).toBe('BECOME password: \n');
  });

  it('Ctrl-C on a terminal: an error, raw mode left', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, modes: [] as boolean[] });
    const tty = Object.assign(input, { setRawMode: (m: boolean) => input.modes.push(m) });
    const answer = askSecret('p: ', tty, output().out);
    tty.write('ab\u0003');
    await expect(answer).rejects.toThrow(/interrupted/);
    expect(input.modes).toEqual([true, false]);
  });

  it('from a pipe: the first line; an empty pipe is an error', async () => {
    const pipe = new PassThrough();
    const answer = askSecret('p: ', pipe, output().out);
    pipe.end('from a pipe\nnext line\n');
    expect(await answer).toBe('from a pipe');
    const empty = new PassThrough();
    const none = askSecret('p: ', empty, output().out);
    empty.end();
    await expect(none).rejects.toThrow(/no password given/);
  });
});
