// Issue 17 on two real lab hosts: check mode shows every failure at once while apply stops a host
// at its first; plan with Terraform's exit codes, show of a saved plan, apply --limit of a subset,
// and --junit as a CI system reads it.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { hvtune, labFile, play } from '../play.js';

const lab = useLab({ hosts: 2 });
const conn = () => ['-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath];
const live = async (host: string, key: string) => (await lab().readFile(host, `/proc/sys/${key.replace(/\./g, '/')}`))!.trim();

const HEADER = '# Managed by hvtune: keys below are set by playbooks; other lines are kept.\n';
const CHECKED = '/etc/sysctl.d/61-check.conf';
const FAILING = `
- name: retries
  hosts: lab
  tasks:
    - name: syn retries
      sysctl: { file: ${CHECKED}, values: { net.ipv4.tcp_syn_retries: 4 } }
    - name: a key this kernel lacks
      sysctl: { file: ${CHECKED}, values: { net.ipv4.tcp_tw_recycle: 1 } }
    - name: synack retries
      sysctl: { file: ${CHECKED}, values: { net.ipv4.tcp_synack_retries: 3 } }
    - name: a file without its directory
      lineinfile: { path: /etc/hvtune-nowhere/x.conf, line: "x = 1" }
`;

const SAVED = '/etc/sysctl.d/62-plan.conf';
const GOOD = `
- name: timers
  hosts: lab
  tasks:
    - name: fin timeout
      sysctl: { file: ${SAVED}, values: { net.ipv4.tcp_fin_timeout: 33 } }
    - name: probes
      sysctl: { file: ${SAVED}, values: { net.ipv4.tcp_keepalive_probes: 6 } }
`;

function parseXml(path: string) {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => void errors.push(`${level}: ${msg}`) }).parseFromString(
    readFileSync(path, 'utf8'),
    'text/xml',
  );
  expect(errors).toEqual([]);
  return doc.documentElement!;
}

describe('check mode shows everything', () => {
  it('plans every task past a failure on both hosts, lists every failure, exits 1; apply stops at the first', async () => {
    const [hv1, hv2] = lab().hosts.map((h) => h.name);
    const before = { syn: await live(hv1, 'net.ipv4.tcp_syn_retries'), synack: await live(hv1, 'net.ipv4.tcp_synack_retries') };
    expect(before).not.toEqual({ syn: '4', synack: '3' });
    const dir = mkdtempSync(join(lab().dir, 'check-'));
    const junit = join(dir, 'check.xml');

    const check = await play(lab(), FAILING, { check: true, args: ['--junit', junit] });
    expect(check.code, check.stdout + check.stderr).toBe(1);
    const { report } = check;
    for (const h of [hv1, hv2]) {
      expect(report.failures.filter((f) => f.host === h).map((f) => f.task)).toEqual([
        'a key this kernel lacks',
        'a file without its directory',
      ]);
      expect(report.recap[h]).toMatchObject({ ok: 2, changed: 2, failed: 2 });
      // the third task planned on the file as the first would leave it, without the failed second
      const synack = report.changes.find((c) => c.host === h && c.task === 'synack retries' && c.diff)!;
      expect(synack.diff).toContain('\n net.ipv4.tcp_syn_retries = 4\n+net.ipv4.tcp_synack_retries = 3\n');
      expect(synack.diff).not.toContain('tcp_tw_recycle');
    }
    expect(report.summary).toMatchObject({ check: true, hosts: 2, changes: 8, changedHosts: 2, failedHosts: 2, failedTasks: 4 });
    // nothing changed on the hosts
    expect(await live(hv1, 'net.ipv4.tcp_syn_retries')).toBe(before.syn);
    expect(await lab().readFile(hv1, CHECKED)).toBeNull();

    // the JUnit file: 2 hosts × 4 tasks, the 4 failures with their messages
    const root = parseXml(junit);
    expect([root.getAttribute('tests'), root.getAttribute('failures')]).toEqual(['8', '4']);
    const failed = Array.from(root.getElementsByTagName('testcase')).filter((c) => c.getElementsByTagName('failure').length);
    expect(failed.map((c) => `${c.getAttribute('classname')}: ${c.getAttribute('name')}`).sort()).toEqual(
      [hv1, hv2].flatMap((h) => [`${h}: a file without its directory`, `${h}: a key this kernel lacks`]).sort(),
    );
    expect(failed[0].getElementsByTagName('failure')[0].getAttribute('message')).toMatch(/tcp_tw_recycle|hvtune-nowhere/);

    // the plain recap says it the same way, closed by the summary line
    const plain = await hvtune(['play', labFile(lab(), 'failing.yml', FAILING), ...conn(), '--check']);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toContain(`${hv2} | synack retries | changed`);
    expect(plain.stdout.split('\n').at(-1)).toBe('Plan: 8 changes on 2 of 2 hosts, 0 pending reboots, 2 failed (4 tasks)');

    // apply: hv1 stops at its first failure — the first task applied, the third not
    const applied = await play(lab(), FAILING, { args: ['--limit', hv1] });
    expect(applied.code).toBe(1);
    expect(applied.report.failures.map((f) => f.task)).toEqual(['a key this kernel lacks']);
    expect(await live(hv1, 'net.ipv4.tcp_syn_retries')).toBe('4');
    expect(await live(hv1, 'net.ipv4.tcp_synack_retries')).toBe(before.synack);
    expect(await lab().readFile(hv1, CHECKED)).toBe(`${HEADER}net.ipv4.tcp_syn_retries = 4\n`);
    expect(await live(hv2, 'net.ipv4.tcp_syn_retries')).toBe(before.syn);
  });
});

describe('saved plans, Terraform-style', () => {
  it('plan prints or saves with 0, --detailed-exitcode says 2; show prints it; apply --limit applies a subset', async () => {
    const [hv1, hv2] = lab().hosts.map((h) => h.name);
    const original = { fin: await live(hv1, 'net.ipv4.tcp_fin_timeout'), probes: await live(hv1, 'net.ipv4.tcp_keepalive_probes') };
    expect(original).not.toEqual({ fin: '33', probes: '6' });
    const dir = mkdtempSync(join(lab().dir, 'tfplan-'));
    const playbook = labFile(lab(), 'timers.yml', GOOD);

    // no -o: the plan is printed, nothing saved, exit 0 (2 with --detailed-exitcode)
    const printed = await hvtune(['plan', playbook, ...conn(), '--diff']);
    expect(printed.code, printed.stdout + printed.stderr).toBe(0);
    expect(printed.stdout).toContain(`${hv1} | fin timeout | changed`);
    expect(printed.stdout).toContain(`same diff on ${hv1}, ${hv2}:`);
    expect(printed.stdout).not.toMatch(/saved/);
    expect(printed.stdout.split('\n').at(-1)).toBe('Plan: 8 changes on 2 of 2 hosts, 0 pending reboots, 0 failed');
    expect((await hvtune(['plan', playbook, ...conn(), '--detailed-exitcode'])).code).toBe(2);

    // -o: saved, exit 0; with --detailed-exitcode, 2
    const planFile = join(dir, 'plan.json');
    const junit = join(dir, 'plan.xml');
    const saved = await hvtune(['plan', playbook, ...conn(), '-o', planFile, '--junit', junit]);
    expect(saved.code, saved.stdout + saved.stderr).toBe(0);
    expect(saved.stdout).toContain(`8 change(s) saved to ${planFile}`);
    expect(parseXml(junit).getAttribute('tests')).toBe('4');
    const detailed = await hvtune(['plan', playbook, ...conn(), '-o', join(dir, 'detailed.json'), '--detailed-exitcode']);
    expect(detailed.code).toBe(2);
    expect(existsSync(join(dir, 'detailed.json'))).toBe(true);

    // show: the plan as check mode printed it, the diff once for both hosts
    const shown = await hvtune(['show', planFile, '--diff']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`${hv2} | probes | changed\n    set net.ipv4.tcp_keepalive_probes: "${original.probes}" → "6"`);
    expect(shown.stdout).toContain(`same diff on ${hv1}, ${hv2}:\n    --- /dev/null\n    +++ b${SAVED}`);
    expect(shown.stdout.split('\n').at(-1)).toBe('Plan: 8 changes on 2 of 2 hosts, 0 pending reboots, 0 failed');
    const shownJson = JSON.parse((await hvtune(['show', planFile, '--json'])).stdout);
    expect(shownJson.summary).toMatchObject({ changes: 8, changedHosts: 2 });
    expect(await lab().readFile(hv1, SAVED)).toBeNull();

    // apply --limit: hv1 only; hv2 untouched; the record names what was skipped
    const runs = join(dir, 'runs');
    const first = await hvtune(['apply', planFile, '--known-hosts', lab().knownHostsPath, '--limit', hv1, '--records', runs]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain(`${hv2} | skipped: not in --limit (untouched)`);
    expect(await live(hv1, 'net.ipv4.tcp_fin_timeout')).toBe('33');
    expect(await live(hv1, 'net.ipv4.tcp_keepalive_probes')).toBe('6');
    expect(await lab().readFile(hv1, SAVED)).toBe(`${HEADER}net.ipv4.tcp_fin_timeout = 33\nnet.ipv4.tcp_keepalive_probes = 6\n`);
    expect(await live(hv2, 'net.ipv4.tcp_fin_timeout')).toBe(original.fin);
    expect(await lab().readFile(hv2, SAVED)).toBeNull();
    const record = JSON.parse(readFileSync(/run record: (.*)/.exec(first.stdout)![1], 'utf8'));
    expect(record).toMatchObject({ limit: hv1, skipped: [hv2] });
    expect(Object.keys(record.hosts)).toEqual([hv1]);

    // the rest of the same plan later; then nothing is left to do
    const rest = await hvtune(['apply', planFile, '--known-hosts', lab().knownHostsPath, '--limit', hv2, '--records', runs, '--json']);
    expect(rest.code, rest.stdout + rest.stderr).toBe(0);
    expect(JSON.parse(rest.stdout).hosts).toMatchObject({ [hv1]: { status: 'skipped' }, [hv2]: { status: 'applied' } });
    expect(await live(hv2, 'net.ipv4.tcp_fin_timeout')).toBe('33');
    const again = await hvtune(['plan', playbook, ...conn(), '--detailed-exitcode']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout.split('\n').at(-1)).toBe('Plan: 0 changes on 0 of 2 hosts, 0 pending reboots, 0 failed');

    // drift --junit: converged hosts, no failure
    const driftXml = join(dir, 'drift.xml');
    const drift = await hvtune(['drift', playbook, ...conn(), '--junit', driftXml]);
    expect(drift.code, drift.stdout + drift.stderr).toBe(0);
    const root = parseXml(driftXml);
    expect([root.getAttribute('tests'), root.getAttribute('failures')]).toEqual(['4', '0']);
  });
});
