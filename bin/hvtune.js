#!/usr/bin/env node
// Entry point: the compiled CLI (npm run build makes dist/).
import { runCli } from '../dist/src/cli.js';
import { installInterrupt } from '../dist/src/interrupt.js';

const stderr = (s) => process.stderr.write(s + '\n');
const code = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s + '\n'),
  stderr,
  tty: !!process.stdout.isTTY && !process.env.CI,
  interrupt: installInterrupt(process, stderr),
});
process.exitCode = code;
