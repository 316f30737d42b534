// Asking for a secret (`-K`): on a terminal without echo; from a pipe, its first line. Never kept
// beyond the answer, never written anywhere.

import { HvtuneError } from './errors.js';

interface Input extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export function askSecret(prompt: string, input: Input, output: NodeJS.WritableStream): Promise<string> {
  output.write(prompt);
  return new Promise((resolve, reject) => {
    const raw = !!input.isTTY && typeof input.setRawMode === 'function';
    let answer = '';
    const finish = (err?: Error) => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      if (raw) input.setRawMode!(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(answer);
    };
    const onEnd = () => finish(answer === '' ? new HvtuneError('no password given (end of input)') : undefined);
    const onData = (chunk: Buffer | string) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new HvtuneError('interrupted while asking for the password'));
        if (ch === '\u0004' && answer === '') return onEnd();
        if (ch === '\u007f' || ch === '\b') answer = answer.slice(0, -1);
        else answer += ch;
      }
    };
    if (raw) input.setRawMode!(true);
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}
