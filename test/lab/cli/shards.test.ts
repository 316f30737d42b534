// Past one controller: 40 hosts in 4 shards run as 4 processes side by side, merged with `hvtune
// report merge`: every host done exactly once, the merged recap equal to an unsharded run's.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { labFile } from '../play.js';

const lab = useLab({ hosts: 40 });
const CLI = join(import.meta.dirname, '../../../bin/hvtune.js');

const PLAYBOOK = `
- name: sharded
  hosts: lab
  tasks:
    - name: fin timeout
      sysctl: { values: { net.ipv4.tcp_fin_timeout: 41 } }
`;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('four shards of forty hosts', () => {
  it('check: the merged recap is the unsharded one; apply: each host changed by exactly one shard', async () => {
    const book = labFile(lab(), 'sharded.yml', PLAYBOOK);
    const base = ['play', book, '-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath, '--json', '--forks', '10'];
    const whole = await cli([...base, '--check']);
    expect(whole.code, whole.stderr).toBe(2);
    const wholeReport = JSON.parse(whole.stdout);

    const shardRuns = async (mode: string[]) => {
      const runs = await Promise.all(
        [1, 2, 3, 4].map((k) => cli([...base, ...mode, '--shard', `${k}/4`, '--records', join(lab().dir, 'runs')])),
      );
      return runs.map((r, i) => {
        const file = join(lab().dir, `shard-${mode.length ? 'check' : 'apply'}-${i + 1}.json`);
        writeFileSync(file, r.stdout);
        return { ...r, file, report: JSON.parse(r.stdout) };
      });
    };

    const checks = await shardRuns(['--check']);
    const hostsPerShard = checks.map((r) => Object.keys(r.report.recap));
    // disjoint and complete
    expect(hostsPerShard.flat().sort()).toEqual(
      lab()
        .hosts.map((h) => h.name)
        .sort(),
    );
    for (const hosts of hostsPerShard) expect(hosts.length).toBeGreaterThan(0);
    const merged = await cli(['report', 'merge', ...checks.map((r) => r.file), '--json']);
    expect(merged.code).toBe(2); // check mode with changes pending, as the unsharded run
    const mergedReport = JSON.parse(merged.stdout);
    const byHost = (recap: Record<string, unknown>) => Object.fromEntries(Object.entries(recap).sort(([a], [b]) => a.localeCompare(b)));
    expect(byHost(mergedReport.recap)).toEqual(byHost(wholeReport.recap));
    expect(mergedReport.changes.length).toBe(wholeReport.changes.length);

    const applies = await shardRuns([]);
    for (const r of applies) expect(r.code, r.stderr).toBe(0);
    const applied = JSON.parse((await cli(['report', 'merge', ...applies.map((r) => r.file), '--json'])).stdout);
    expect(Object.keys(applied.recap)).toHaveLength(40);
    for (const [host, recap] of Object.entries(applied.recap)) expect([host, (recap as { changed: number }).changed]).toEqual([host, 1]);
    const values = await Promise.all(lab().hosts.map((h) => lab().exec(h.name, ['cat', '/proc/sys/net/ipv4/tcp_fin_timeout'])));
    expect(new Set(values.map((v) => v.stdout.trim()))).toEqual(new Set(['41']));

    // their records merge too, into one that rollback takes
    const records = applies.map((r) => /run record: (\S+)/.exec(r.stderr)?.[1]);
    expect(records.every(Boolean)).toBe(true);
    const mergedRecord = join(lab().dir, 'merged-record.json');
    const m = await cli(['report', 'merge', ...(records as string[]), '-o', mergedRecord]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout.split('\n').filter((l) => /: ok, 1 task\(s\) applied/.test(l))).toHaveLength(40);
    const undo = await cli(['rollback', mergedRecord, '-o', join(lab().dir, 'undo.json'), '--known-hosts', lab().knownHostsPath]);
    expect(undo.code, undo.stderr).toBe(2);
    // each host: its live value and the file the run created
    expect(/(\d+) change\(s\) saved/.exec(undo.stdout)?.[1]).toBe('80');
  });
});
