#!/usr/bin/env node
// Entry point: the compiled CLI (npm run build makes dist/).
import { runCli } from '../dist/src/cli.js';

const code = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s + '\n'),
  stderr: (s) => process.stderr.write(s + '\n'),
  tty: !!process.stdout.isTTY && !process.env.CI,
});
process.exitCode = code;
