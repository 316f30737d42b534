// Rollouts in batches on six lab hosts: `serial`, `max_fail_percentage` and `any_errors_fatal`,
// with a failure injected on one host, checked on the hosts themselves.

import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { hvtune, labFile, play } from '../play.js';

const lab = useLab({ hosts: 6 });
const names = ['hv1', 'hv2', 'hv3', 'hv4', 'hv5', 'hv6'];
const live = async (host: string, key: string) => (await lab().exec(host, ['sysctl', '-n', key])).stdout.trim();

const ROLLING = `
- name: rolling
  hosts: lab
  serial: 2
  max_fail_percentage: 0
  tasks:
    - name: keepalive probes
      sysctl: { values: { net.ipv4.tcp_keepalive_probes: 5 } }
    - name: broken on hv3
      when: "eq inventory_hostname 'hv3'"
      command: { argv: ["false"] }
`;

describe('serial and max_fail_percentage', () => {
  it('check mode shows the batches and changes nothing', async () => {
    const before = await Promise.all(names.map((h) => live(h, 'net.ipv4.tcp_keepalive_probes')));
    const r = await hvtune([
      'play',
      labFile(lab(), 'rolling.yml', ROLLING),
      '-i',
      lab().inventoryPath,
      '--known-hosts',
      lab().knownHostsPath,
      '--check',
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain('in 3 batch(es): hv1 hv2 | hv3 hv4 | hv5 hv6');
    expect(r.stdout).toContain('BATCH 2/3: hv3 hv4');
    expect(await Promise.all(names.map((h) => live(h, 'net.ipv4.tcp_keepalive_probes')))).toEqual(before);
  });

  it('a failure in batch 2 stops the rollout: batch 3 is never touched, and the recap says so', async () => {
    const before = await live('hv5', 'net.ipv4.tcp_keepalive_probes');
    expect(before).not.toBe('5');
    const r = await play(lab(), ROLLING);
    expect(r.code).toBe(1);
    expect(Object.fromEntries(Object.entries(r.report.recap).map(([h, c]) => [h, c.batch]))).toEqual({ hv1: 1, hv2: 1, hv3: 2, hv4: 2 });
    expect(r.report.recap.hv3.failed).toBe(1);
    expect(r.report.untouched).toEqual(['hv5', 'hv6']);
    expect(r.report.stopped).toMatch(/1 of 2 host\(s\) of batch 2 failed \(hv3\), more than max_fail_percentage 0/);
    // on the hosts: batches 1 and 2 have the value (hv3 too: its first task ran), batch 3 not
    for (const h of ['hv1', 'hv2', 'hv3', 'hv4']) expect(await live(h, 'net.ipv4.tcp_keepalive_probes')).toBe('5');
    for (const h of ['hv5', 'hv6']) expect(await live(h, 'net.ipv4.tcp_keepalive_probes')).toBe(before);
    expect(await lab().readFile('hv5', '/etc/sysctl.d/90-hvtune.conf')).toBeNull();
  });

  it('a threshold the batch stays within lets every batch run', async () => {
    const r = await play(lab(), ROLLING.replace('max_fail_percentage: 0', 'max_fail_percentage: 50'));
    expect(r.code).toBe(1); // hv3 still fails
    expect(r.report.stopped).toBeNull();
    expect(r.report.untouched).toEqual([]);
    for (const h of ['hv5', 'hv6']) expect(await live(h, 'net.ipv4.tcp_keepalive_probes')).toBe('5');
  });
});

describe('any_errors_fatal', () => {
  const FATAL = `
- name: fatal
  hosts: "hv1:hv2:hv3"
  any_errors_fatal: true
  tasks:
    - name: fails on hv1 at once
      when: "eq inventory_hostname 'hv1'"
      command: { argv: ["false"] }
    - name: the task running when hv1 fails
      command: { argv: [sleep, "2"] }
    - name: fin timeout
      sysctl: { values: { net.ipv4.tcp_fin_timeout: 33 } }
`;

  it('one failure stops every host after its current task; later plays do not run', async () => {
    const before = await Promise.all(['hv1', 'hv2', 'hv3'].map((h) => live(h, 'net.ipv4.tcp_fin_timeout')));
    expect(before).not.toContain('33');
    const r = await play(lab(), FATAL + FATAL.replace('- name: fatal', '- name: never').replace('"hv1:hv2:hv3"', 'hv4'));
    expect(r.code).toBe(1);
    expect(r.report.recap.hv1.failed).toBe(1);
    // hosts do not run in lockstep: each stops before whichever task it would start next
    for (const h of ['hv2', 'hv3']) expect(r.report.recap[h].failed).toBe(0);
    expect(r.report.stopped).toMatch(/hv1 failed \(any_errors_fatal\)/);
    expect(r.report.untouched).toEqual(['hv4']);
    expect(r.report.warnings.join('\n')).toMatch(/hv2: play "fatal" stopped: hv1 failed/);
    expect(await Promise.all(['hv1', 'hv2', 'hv3'].map((h) => live(h, 'net.ipv4.tcp_fin_timeout')))).toEqual(before);
  });
});

describe('play --resume', () => {
  const RESUMABLE = `
- name: resumable
  hosts: "hv4:hv5:hv6"
  serial: 1
  max_fail_percentage: 0
  tasks:
    - name: syn retries
      sysctl: { values: { net.ipv4.tcp_syn_retries: 4 } }
    - name: broken on hv5 unless fixed
      when: "and (eq inventory_hostname 'hv5') (not fixed)"
      command: { argv: ["false"] }
`;

  it('skips the hosts the interrupted run finished and goes on with the rest; other inputs are refused', async () => {
    const file = labFile(lab(), 'resumable.yml', RESUMABLE);
    const base = ['play', file, '-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath, '--records', `${lab().dir}/runs`];
    const first = await hvtune([...base, '-e', 'fixed=false']);
    expect(first.code).toBe(1);
    const record = /run record: (\S+)/.exec(first.stderr)?.[1];
    expect(record).toBeDefined();
    expect(await live('hv6', 'net.ipv4.tcp_syn_retries')).not.toBe('4');
    // hv4 finished in that run: set by hand now, a resumed run must leave it alone
    await lab().exec('hv4', ['sysctl', '-w', 'net.ipv4.tcp_syn_retries=6']);

    const resumed = await hvtune([...base, '-e', 'fixed=true', '--resume', record!, '--json']);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('skipping hv4 (finished in that run)');
    expect(Object.keys(JSON.parse(resumed.stdout).recap).sort()).toEqual(['hv5', 'hv6']);
    expect(await live('hv4', 'net.ipv4.tcp_syn_retries')).toBe('6');
    for (const h of ['hv5', 'hv6']) expect(await live(h, 'net.ipv4.tcp_syn_retries')).toBe('4');

    const other = labFile(lab(), 'other.yml', RESUMABLE.replace('tcp_syn_retries: 4', 'tcp_syn_retries: 5'));
    const refused = await hvtune(['play', other, ...base.slice(2), '-e', 'fixed=true', '--resume', record!]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/resume refused: the playbook is not the one that run used/);
  });
});
