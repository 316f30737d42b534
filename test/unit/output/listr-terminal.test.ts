// The terminal view as a user sees it: the listr2 renderer (built, in dist/) in a real pseudo
// terminal of 30 rows (util-linux `script`), fed a run of 60 hosts 10 at a time, two of which
// fail. Every frame drawn must fit the terminal, count done hosts, and keep the failures.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'hvtune-listr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIMULATED_RUN = `
import { listrRenderer } from ${JSON.stringify(resolve('dist/src/output/listr.js'))};
import { noColors } from ${JSON.stringify(resolve('dist/src/output/format.js'))};
const hosts = Array.from({ length: 60 }, (_, i) => 'hv' + (i + 1));
const r = listrRenderer(hosts, (s) => process.stdout.write(s + '\\n'), { diff: false, style: noColors });
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
r.handle({ type: 'play-start', play: 'tcp', index: 0, hosts, check: true });
const recap = {};
let next = 0;
const worker = async () => {
  while (next < hosts.length) {
    const h = hosts[next++];
    r.handle({ type: 'host-start', host: h });
    r.handle({ type: 'task-start', host: h, id: 1, task: 'buffers', module: 'sysctl' });
    await sleep(30 + (next % 7) * 10);
    const failed = h === 'hv7' || h === 'hv33';
    r.handle({ type: 'task-done', host: h, id: 1, task: 'buffers', module: 'sysctl', status: failed ? 'failed' : 'ok',
      changes: [], pending: [], warnings: [], error: failed ? 'boom' : undefined, handler: false });
    recap[h] = { ok: failed ? 0 : 1, changed: 0, failed: failed ? 1 : 0, skipped: 0, unreachable: false, pending: [] };
    r.handle({ type: 'host-done', host: h, roundTrips: 2 });
  }
};
await Promise.all(Array.from({ length: 10 }, worker));
r.handle({ type: 'run-end', report: { check: true, recap, changes: [], pending: [], failures: [], warnings: [],
  roundTrips: Object.fromEntries(hosts.map((h) => [h, 2])), stopped: null, untouched: [], durationMs: 1000 } });
await r.done();
`;

describe('listr renderer in a 30-row terminal', () => {
  it('60 hosts: frames fit, a done/total counter, working hosts only, failures kept', () => {
    const script = join(dir, 'run.mjs');
    writeFileSync(script, SIMULATED_RUN);
    const r = spawnSync('script', ['-qec', `stty rows 30 cols 120; ${process.execPath} ${script}`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, CI: '' },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    // log-update erases the previous frame line by line, then draws the next one
    const esc = String.fromCharCode(27);
    const frames = r.stdout
      .split(new RegExp(`(?:${esc}\\[2K${esc}\\[1A)+${esc}\\[2K${esc}\\[G`))
      .map((f) => f.replace(new RegExp(`${esc}\\[[0-9;?]*[A-Za-z]`, 'g'), '').replace(/\r/g, ''));
    const drawn = frames.filter((f) => /\d+\/60 done/.test(f));
    expect(drawn.length).toBeGreaterThan(5);
    const final = drawn.at(-1)!;
    for (const f of drawn.slice(0, -1)) expect(f.trimEnd().split('\n').length).toBeLessThanOrEqual(30);
    expect(drawn.some((f) => /PLAY \[tcp\] \d+\/60 done, 10 working/.test(f))).toBe(true);
    // a frame mid-run shows at most the 10 working hosts and the failures, not 60 rows
    for (const f of drawn) expect((f.match(/^\S+ hv\d+:/gm) ?? []).length).toBeLessThanOrEqual(12);
    // the last frame: every host done, the two failures on screen, no other host row
    const rows = final.split('\n');
    expect(rows[0]).toMatch(/PLAY \[tcp\] 60\/60 done, 2 failed/);
    expect(rows.filter((l) => /^\S+ hv\d+:/.test(l)).map((l) => l.split(' ')[1])).toEqual(['hv7:', 'hv33:']);
  });
});
