// Issue 8's "done when", tried as a user would through the CLI on two real lab hosts: a saved plan
// applied exactly (and refused on a host changed since), baselines, drift, run records and rollback.

import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { hvtune, labFile, latestBackup } from '../play.js';

const lab = useLab({ hosts: 2 });

const PLAYBOOK = `
- name: tcp
  hosts: lab
  tasks:
    - name: tcp timers
      sysctl:
        file: /etc/sysctl.d/60-plan.conf
        values:
          net.ipv4.tcp_fin_timeout: "{{fin}}"
          net.ipv4.tcp_keepalive_probes: 5
  vars:
    fin: 30
`;
const FILE = '/etc/sysctl.d/60-plan.conf';

async function live(host: string, key: string): Promise<string> {
  return (await lab().readFile(host, `/proc/sys/${key.replace(/\./g, '/')}`))!.trim();
}

describe('saved plans, baselines, drift and rollback', () => {
  it('follows a plan from snapshot to rollback', async () => {
    const [hv1, hv2] = lab().hosts.map((h) => h.name);
    const dir = mkdtempSync(join(lab().dir, 'plans-'));
    const playbook = labFile(lab(), 'site.yml', PLAYBOOK);
    const conn = ['-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath];
    const runs = join(dir, 'runs');
    const original = { fin: await live(hv1, 'net.ipv4.tcp_fin_timeout'), probes: await live(hv1, 'net.ipv4.tcp_keepalive_probes') };
    expect(original).not.toEqual({ fin: '30', probes: '5' });

    // Baselines: one file per host, byte-identical when re-taken on unchanged hosts.
    const base = join(dir, 'baselines');
    const snap = await hvtune(['snapshot', playbook, ...conn, '-o', base]);
    expect(snap.code, snap.stdout + snap.stderr).toBe(0);
    expect(readdirSync(base).sort()).toEqual([`${hv1}.yml`, `${hv2}.yml`]);
    const first = readFileSync(join(base, `${hv1}.yml`), 'utf8');
    expect(first).toContain(`net.ipv4.tcp_fin_timeout:\n        desired: "30"\n        live: "${original.fin}"\n        persisted:`);
    const again = await hvtune(['snapshot', playbook, ...conn, '-o', base]);
    expect(again.code).toBe(0);
    expect(readFileSync(join(base, `${hv1}.yml`), 'utf8')).toBe(first);
    expect(again.stdout).toContain('unchanged in');

    // plan: check mode that saves; nothing changes on the hosts.
    const planFile = join(dir, 'plan.json');
    const planned = await hvtune(['plan', playbook, ...conn, '-o', planFile]);
    expect(planned.code, planned.stdout + planned.stderr).toBe(0); // saved, changes or not (--detailed-exitcode for 2)
    expect(await live(hv1, 'net.ipv4.tcp_fin_timeout')).toBe(original.fin);
    expect(await lab().readFile(hv1, FILE)).toBeNull();
    const plan = JSON.parse(readFileSync(planFile, 'utf8'));
    expect(plan.hosts[hv1].tasks[0].changes.map((c: { target: string }) => c.target)).toEqual([
      'sysctl:net.ipv4.tcp_fin_timeout',
      'sysctl:net.ipv4.tcp_keepalive_probes',
      FILE,
    ]);

    // Between plan and apply: someone changes hv2 by hand, and the playbook is edited.
    await lab().exec(hv2, ['sysctl', '-q', '-w', 'net.ipv4.tcp_fin_timeout=45']);
    writeFileSync(playbook, PLAYBOOK.replace('fin: 30', 'fin: 31'));

    const applied = await hvtune(['apply', planFile, '--known-hosts', lab().knownHostsPath, '--records', runs]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(1);
    expect(applied.stderr).toMatch(/site\.yml changed since the plan was made/);
    expect(applied.stdout).toContain(`${hv2} | REFUSED`);
    expect(applied.stdout).toContain(`sysctl:net.ipv4.tcp_fin_timeout: was "${original.fin}" when planned, is now "45"`);
    // hv1: exactly the saved plan (30, not the edited playbook's 31); hv2: untouched.
    expect(await live(hv1, 'net.ipv4.tcp_fin_timeout')).toBe('30');
    expect(await live(hv1, 'net.ipv4.tcp_keepalive_probes')).toBe('5');
    expect(await lab().readFile(hv1, FILE)).toContain('net.ipv4.tcp_fin_timeout = 30\n');
    expect(await live(hv2, 'net.ipv4.tcp_fin_timeout')).toBe('45');
    expect(await live(hv2, 'net.ipv4.tcp_keepalive_probes')).toBe(original.probes);
    expect(await lab().readFile(hv2, FILE)).toBeNull();
    writeFileSync(playbook, PLAYBOOK);

    // Drift against the playbook: hv1 in line, hv2 drifted live (and not persisted).
    const vsPlaybook = await hvtune(['drift', playbook, ...conn, '--json']);
    expect(vsPlaybook.code, vsPlaybook.stdout + vsPlaybook.stderr).toBe(2);
    const report = JSON.parse(vsPlaybook.stdout);
    expect(report.hosts[hv1]).toEqual({ status: 'clean', items: [] });
    expect(report.hosts[hv2].items).toContainEqual(
      expect.objectContaining({ setting: 'sysctl:net.ipv4.tcp_fin_timeout', kind: 'live', expected: '30', actual: '45' }),
    );
    expect(report.hosts[hv2].items).toContainEqual(
      expect.objectContaining({ setting: 'sysctl:net.ipv4.tcp_fin_timeout', kind: 'persisted', expected: '30' }),
    );

    // Drift against the baseline: names host, setting, expected and actual.
    const vsBase = await hvtune(['drift', base, ...conn]);
    expect(vsBase.code, vsBase.stdout + vsBase.stderr).toBe(2);
    expect(vsBase.stdout).toContain(`${hv2}  sysctl:net.ipv4.tcp_fin_timeout  drifted live: expected "${original.fin}", actual "45"`);
    expect(vsBase.stdout).toContain(`${hv1}  sysctl:net.ipv4.tcp_fin_timeout  drifted live: expected "${original.fin}", actual "30"`);

    // Rollback of the apply's run record: a plan, checkable, then applied.
    const record = /run record: (.*)/.exec(applied.stdout)![1];
    const recorded = JSON.parse(readFileSync(record, 'utf8'));
    expect(recorded.hosts[hv1].tasks[0]).toMatchObject({ result: 'applied', module: 'sysctl' });
    expect(recorded.hosts[hv2]).toMatchObject({ result: 'refused' });
    const rollbackPlan = join(dir, 'rollback.json');
    const rb = await hvtune(['rollback', record, '--known-hosts', lab().knownHostsPath, '-o', rollbackPlan]);
    expect(rb.code, rb.stdout + rb.stderr).toBe(2);
    expect(rb.stdout).toContain(`${hv1} | restore net.ipv4.tcp_fin_timeout: "30" → "${original.fin}"`);
    expect(rb.stdout).toContain(`${hv1} | remove ${FILE} (the run created it)`);
    expect(await live(hv1, 'net.ipv4.tcp_fin_timeout')).toBe('30'); // only a plan so far
    const undo = await hvtune(['apply', rollbackPlan, '--known-hosts', lab().knownHostsPath, '--records', runs]);
    expect(undo.code, undo.stdout + undo.stderr).toBe(0);
    expect(await live(hv1, 'net.ipv4.tcp_fin_timeout')).toBe(original.fin);
    expect(await live(hv1, 'net.ipv4.tcp_keepalive_probes')).toBe(original.probes);
    expect(await lab().readFile(hv1, FILE)).toBeNull();

    // hv2 put back by hand: the earlier baseline is clean again on both hosts.
    await lab().exec(hv2, ['sysctl', '-q', '-w', `net.ipv4.tcp_fin_timeout=${original.fin}`]);
    const clean = await hvtune(['drift', base, ...conn]);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toContain(`${hv1}  clean`);
  });

  it('play writes a run record that rollback undoes, persisted value included', async () => {
    const hv2 = lab().hosts[1].name;
    const runs = mkdtempSync(join(lab().dir, 'runs-'));
    const before = await live(hv2, 'net.ipv4.tcp_fin_timeout');
    const playbook = labFile(lab(), 'site.yml', PLAYBOOK);
    const conn = ['-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath];
    const played = await hvtune(['play', playbook, ...conn, '--limit', hv2, '--records', runs]);
    expect(played.code, played.stdout + played.stderr).toBe(0);
    const record = /run record: (.*)/.exec(played.stderr)![1];
    expect(readdirSync(runs)).toEqual([record.slice(runs.length + 1)]);
    const task = JSON.parse(readFileSync(record, 'utf8')).hosts[hv2].tasks[0];
    expect(task).toMatchObject({ result: 'applied', args: { values: { 'net.ipv4.tcp_fin_timeout': 30 } } });
    expect(task.changes[0]).toMatchObject({ target: 'sysctl:net.ipv4.tcp_fin_timeout', before, after: '30' });

    const rollbackPlan = join(runs, 'rollback.json');
    expect((await hvtune(['rollback', record, '--known-hosts', lab().knownHostsPath, '-o', rollbackPlan])).code).toBe(2);
    // changed by hand after the run: the rollback plan is refused on apply
    await lab().exec(hv2, ['sysctl', '-q', '-w', 'net.ipv4.tcp_keepalive_probes=7']);
    const refused = await hvtune(['apply', rollbackPlan, '--known-hosts', lab().knownHostsPath, '--records', runs]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('sysctl:net.ipv4.tcp_keepalive_probes: changed since the run (now "7", the run left "5")');
    expect(await live(hv2, 'net.ipv4.tcp_fin_timeout')).toBe('30');
    await lab().exec(hv2, ['sysctl', '-q', '-w', 'net.ipv4.tcp_keepalive_probes=5']);
    const undo = await hvtune(['apply', rollbackPlan, '--known-hosts', lab().knownHostsPath, '--records', runs]);
    expect(undo.code, undo.stdout + undo.stderr).toBe(0);
    expect(await live(hv2, 'net.ipv4.tcp_fin_timeout')).toBe(before);
    expect(await lab().readFile(hv2, FILE)).toBeNull();
    // The run created the file: undone, it leaves no backup of it either (issue 15, finding 14).
    expect(await latestBackup(lab(), hv2, FILE)).toBeNull();
  });
});
