// The bad-input corpus through `hvtune validate` and `hvtune play --check`: every invalid entry is
// rejected with each expected problem at its file:line:column, all of them at once, exit 1 — and
// no connection is attempted: the inventory's host is a TCP port this test listens on, and it
// counts every connection that arrives. Inputs too big to commit are generated here.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.js';
import { readCorpus, type CorpusEntry } from '../../harness/bad-corpus.js';

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: (s) => out.push(s), stderr: (s) => err.push(s), tty: false });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const corpus = readCorpus();
const dir = mkdtempSync(join(tmpdir(), 'hvtune-bad-corpus-'));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const goodPlaybook = write('good.yml', '- hosts: all\n  tasks:\n    - command: { argv: [echo, ok] }\n');

let server: Server;
let connections = 0;
const sockets = new Set<Socket>();
let inventory: string;

beforeAll(async () => {
  server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  inventory = write('inventory.yml', `all:\n  hosts:\n    target: { address: 127.0.0.1, port: ${port} }\n`);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/** The command's inputs for an entry: an inventory entry is run with a valid playbook. */
const inputs = (entry: CorpusEntry) => (entry.kind === 'inventory' ? [goodPlaybook, '-i', entry.file] : [entry.file, '-i', inventory]);

/** Every expected problem at its position, and no other error. */
function expectProblems(entry: CorpusEntry, stderr: string) {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error: '));
  for (const p of entry.problems) {
    const at = `error: ${entry.file}:${p.line}:${p.column}`;
    const found = errors.some((l) => (l.startsWith(`${at} `) || l.startsWith(`${at}: `)) && l.includes(p.message));
    expect(found, `${entry.name}: expected ${p.line}:${p.column} ${p.message}\ngot:\n${stderr}`).toBe(true);
  }
  expect(errors, stderr).toHaveLength(entry.problems.length);
}

describe('the bad-input corpus', () => {
  it('has at least 50 entries, playbooks and inventories, invalid and valid', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(50);
    expect(corpus.some((e) => e.kind === 'inventory')).toBe(true);
    expect(corpus.some((e) => e.valid)).toBe(true);
  });

  for (const entry of corpus.filter((e) => !e.valid)) {
    it(`${entry.name}: validate and play --check reject it at its positions, without connecting`, async () => {
      const before = connections;
      const validate = await cli(['validate', ...inputs(entry)]);
      expect(validate.code, validate.stderr).toBe(1);
      expectProblems(entry, validate.stderr);
      const check = await cli(['play', ...inputs(entry), '--check', '--timeout', '2']);
      expect(check.code, check.stderr).toBe(1);
      expectProblems(entry, check.stderr);
      expect(check.stdout).toBe('');
      expect(connections - before).toBe(0);
    });
  }

  for (const entry of corpus.filter((e) => e.valid)) {
    it(`${entry.name}: valid (proven harmless on a lab host by test/lab/bad-corpus.test.ts)`, async () => {
      const validate = await cli(['validate', ...inputs(entry)]);
      expect(validate.code, validate.stderr).toBe(0);
    });
  }

  it('no connection ever arrived at the inventory host', () => {
    expect(connections).toBe(0);
  });

  it('the listener does see a connection when the input is valid (so zero above means none was tried)', async () => {
    const r = await cli(['play', goodPlaybook, '-i', inventory, '--check', '--timeout', '2']);
    expect(r.code).toBe(1);
    expect(connections).toBeGreaterThan(0);
  });
});

describe('huge inputs, generated', () => {
  it('a playbook over the size cap is refused before it is read', async () => {
    const big = write('big.yml', `- hosts: all\n  tasks:\n${'    - command: { argv: [echo, x] }\n'.repeat(150_000)}`);
    const started = Date.now();
    const r = await cli(['validate', big, '-i', inventory]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/big\.yml:1:1: the file is 5\.\d MiB \(\d+ bytes\): hvtune reads inputs up to 4\.0 MiB/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('HVTUNE_MAX_INPUT_BYTES lowers (or raises) the cap', () => {
    const r = spawnSync(process.execPath, ['bin/hvtune.js', 'validate', goodPlaybook, '-i', inventory], {
      env: { ...process.env, HVTUNE_MAX_INPUT_BYTES: '20' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/good\.yml:1:1: the file is .* hvtune reads inputs up to 0\.0 MiB \(20 bytes\)/);
  });

  it('nesting 100 000 deep is refused with a position, not a crash', async () => {
    const deep = write('deep.yml', `- hosts: all\n  vars: { a: ${'['.repeat(100_000)}${']'.repeat(100_000)} }\n  tasks: []\n`);
    const r = await cli(['validate', deep, '-i', inventory]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/deep\.yml:2:\d+: nested too deeply to read/);
  });

  it('a large valid playbook just under the cap validates (every template checked) in seconds', async () => {
    const tasks = Array.from({ length: 20_000 }, (_, i) => `    - command: { argv: [echo, "{{ n }} ${i}"] }\n`).join('');
    const large = write('large.yml', `- hosts: all\n  vars: { n: 1 }\n  tasks:\n${tasks}`);
    const started = Date.now();
    const r = await cli(['validate', large, '-i', inventory]);
    const seconds = (Date.now() - started) / 1000;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/20000 task\(s\)/);
    console.log(
      `validate of a ${(Buffer.byteLength(tasks) / 1024 / 1024).toFixed(1)} MiB playbook with 20000 templated tasks: ${seconds} s`,
    );
    expect(seconds).toBeLessThan(60);
  });
});

describe('the real CLI, for a few entries', () => {
  for (const name of ['tpl-syntax-unclosed-mustache.yml', 'yaml-alias-bomb.yml', 'inject-command.yml']) {
    it(`${name}: exit 1 with its positions`, () => {
      const entry = corpus.find((e) => e.name === name)!;
      const r = spawnSync(process.execPath, ['bin/hvtune.js', 'play', ...inputs(entry), '--check'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      for (const p of entry.problems) expect(r.stderr).toMatch(`${entry.file}:${p.line}:${p.column}`);
    });
  }
});
