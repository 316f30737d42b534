#!/usr/bin/env -S node --max-semi-space-size=4
// Entry point: the compiled CLI (npm run build makes dist/).
// The young generation is kept small: V8's default (16 MB semi-spaces) let a 200-host run's heap
// grow to three times what it holds (peak RSS 175 MB against 126 MB, for the same wall time).
import { runCli } from '../dist/src/cli.js';
import { installInterrupt } from '../dist/src/interrupt.js';
import { askSecret } from '../dist/src/prompt.js';

// A reader that went away (`hvtune … | head`) is not an error of the run: stop writing to it and
// let the run end as it would (an apply still finishes its hosts and writes its record).
const quietOnEpipe = (stream) => {
  let open = true;
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE') throw err;
    open = false;
  });
  return (s) => {
    if (open) stream.write(s + '\n');
  };
};
const stdout = quietOnEpipe(process.stdout);
const stderr = quietOnEpipe(process.stderr);
const code = await runCli(process.argv.slice(2), {
  stdout,
  stderr,
  tty: !!process.stdout.isTTY && !process.env.CI,
  interrupt: installInterrupt(process, stderr),
  askSecret: (prompt) => askSecret(prompt, process.stdin, process.stderr),
});
process.exitCode = code;
