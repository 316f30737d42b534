// The legal entries of the bad-input corpus (test/fixtures/bad/, `# expect: valid`): strings with
// shell syntax, quotes, newlines, NUL bytes and `../` that the schemas accept. Run for real on one
// lab host: nothing they contain is ever executed (the marker file /tmp/pwned appears neither on
// the host nor on the controller), the values arrive byte for byte, and a second run changes
// nothing. The invalid entries are test/unit/input/bad-corpus.test.ts.

import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCorpus } from '../harness/bad-corpus.js';
import { useLab } from './lab.js';
import { play } from './play.js';

const MARKER = '/tmp/pwned';
const lab = useLab({ hosts: 1 });
const entries = readCorpus().filter((e) => e.valid);
// a marker left on this machine by something else must not make the test pass or fail
const markerBefore = existsSync(MARKER);

const markerOnHost = async () => (await lab().exec(lab().hosts[0], ['test', '-e', MARKER])).code === 0;

beforeAll(async () => {
  const host = lab().hosts[0];
  await lab().exec(host, ['mkdir', '-p', '/tmp/hvtune-corpus']);
  // modprobe reads loaded modules from /sys/module: the host sees none, whatever this machine has
  await lab().shadowTree(host, '/sys/module', {});
  expect(await markerOnHost()).toBe(false);
});

describe('legal injection strings are harmless on a real host', () => {
  it('the corpus has legal entries to run', () => {
    expect(entries.length).toBeGreaterThanOrEqual(5);
  });

  for (const entry of entries) {
    it(`${entry.name}: nothing runs, values arrive literally, a second run changes nothing`, async () => {
      const host = lab().hosts[0];
      const yaml = readFileSync(entry.file, 'utf8');
      const first = await play(lab(), yaml);
      if (entry.labFails) {
        expect(first.code, first.stdout).toBe(1);
        expect(first.report.failures.length).toBeGreaterThan(0);
      } else {
        expect(first.code, JSON.stringify(first.report.failures)).toBe(0);
      }
      for (const { path, content } of entry.literals) expect(await lab().readFile(host, path), path).toBe(content);
      for (const path of entry.exists) expect((await lab().exec(host, ['test', '-e', path])).code, path).toBe(0);
      expect(await markerOnHost()).toBe(false);
      if (!markerBefore) expect(existsSync(MARKER)).toBe(false);
      if (!entry.labFails) {
        const second = await play(lab(), yaml);
        expect(second.code).toBe(0);
        expect(second.report.changes).toEqual([]);
      }
    });
  }

  it('an -e value with shell syntax and quotes reaches the file literally', async () => {
    const entry = entries.find((e) => e.name === 'valid-template-values.yml')!;
    const evil = `-e-value $(touch ${MARKER}) \`touch ${MARKER}\`; touch ${MARKER} '"`;
    const r = await play(lab(), readFileSync(entry.file, 'utf8'), { args: ['-e', JSON.stringify({ evil })] });
    expect(r.code, JSON.stringify(r.report.failures)).toBe(0);
    expect(await lab().readFile(lab().hosts[0], '/tmp/hvtune-corpus/rendered.txt')).toBe(`value=${evil} braces={{constructor}}\n`);
    expect(await markerOnHost()).toBe(false);
    if (!markerBefore) expect(existsSync(MARKER)).toBe(false);
  });

  it('a template error in task 2 stops the play before task 1 touches the host (issue 15)', async () => {
    const entry = readCorpus().find((e) => e.name === 'tpl-syntax-unclosed-mustache.yml')!;
    const r = await play(lab(), readFileSync(entry.file, 'utf8')).catch((err: Error) => ({ error: err.message }));
    expect('error' in r ? r.error : '').toMatch(/exit 1[\s\S]*invalid template "dev \{\{ nic \}"/);
    expect(await lab().readFile(lab().hosts[0], '/etc/hvtune-first.conf')).toBeNull();
  });

  it('the sysctl values the kernel refused were not persisted either', async () => {
    const persisted = await lab().readFile(lab().hosts[0], '/etc/sysctl.d/60-hvtune-corpus.conf');
    expect(persisted ?? '').not.toMatch(/touch/);
  });
});
