// `hvtune probe` input errors: caught before any connection, each saying what was expected.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.js';

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: (s) => out.push(s), stderr: (s) => err.push(s), tty: false });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const dir = mkdtempSync(join(tmpdir(), 'hvtune-probe-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const inventory = join(dir, 'inv.yml');
writeFileSync(inventory, 'all:\n  hosts:\n    hv1: { address: 192.0.2.1 }\n');

describe('hvtune probe input errors', () => {
  it('needs an inventory unless it compares', async () => {
    const r = await cli(['probe']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/probe needs an inventory: -i INVENTORY/);
  });

  it('refuses an interval that is not a positive number of seconds', async () => {
    for (const bad of ['0', '-1', 'soon', '99999']) {
      const r = await cli(['probe', '-i', inventory, '--interval', bad]);
      expect(r.code, bad).toBe(1);
      expect(r.stderr).toMatch(/expected seconds between the two samples, above 0 and at most 3600/);
    }
  });

  it('--compare takes exactly two reports, and says which file is not one', async () => {
    expect((await cli(['probe', '--compare', 'only.json'])).stderr).toMatch(
      /--compare takes two saved reports, BEFORE.json AFTER.json \(got 1\)/,
    );
    const missing = await cli(['probe', '--compare', join(dir, 'nope.json'), join(dir, 'nope2.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.json: cannot read the probe report/);
    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, '{\n  "format": "hvtune-probe",\n  oops\n}\n');
    const r = await cli(['probe', '--compare', notJson, notJson]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${notJson}:3:`);
  });
});
