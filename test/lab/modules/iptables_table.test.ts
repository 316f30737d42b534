// iptables_table on a tier-1 lab host: iptables there acts on the host's own network namespace
// (never the machine's). The seed's raw-table rule declared as a table: check, apply, read back
// with iptables-save, and a second run changes nothing — nothing is re-added.

import { afterAll, describe, expect, test } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const playbook = (chains: string) => `- name: firewall
  hosts: lab
  tasks:
    - name: raw table
      iptables_table:
        table: raw
        chains: ${chains}
`;
const NOTRACK = '{PREROUTING: ["-i eth0 -p udp -j CT --notrack", "! -p 253 -j ACCEPT"], OUTPUT: ["-o eth0 -j CT --notrack"]}';
const rawRules = async () => (await lab().exec('hv1', ['iptables-save', '-t', 'raw'])).stdout.split('\n').filter((l) => l.startsWith('-A'));

afterAll(async () => {
  await lab().exec('hv1', ['iptables', '-t', 'raw', '-F']);
});

describe('iptables_table on a tier-1 host', () => {
  test('check shows the table to restore and changes nothing', async () => {
    const r = await play(lab(), playbook(NOTRACK), { check: true });
    expect(r.code).toBe(2);
    expect(changesOn(r.report, 'hv1').map((c) => [c.target, c.effect])).toEqual([
      ['iptables:raw', 'live'],
      ['/etc/iptables/rules.v4', 'persistent'],
    ]);
    expect(await rawRules()).toEqual([]);
  });

  test('apply restores the rules once; a second and a third run change nothing (no rule added again)', async () => {
    const r = await play(lab(), playbook(NOTRACK));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const want = ['-A PREROUTING -i eth0 -p udp -j CT --notrack', '-A PREROUTING ! -p 253 -j ACCEPT', '-A OUTPUT -o eth0 -j CT --notrack'];
    expect(await rawRules()).toEqual(want);
    expect(await lab().readFile('hv1', '/etc/iptables/rules.v4')).toContain('-A PREROUTING -i eth0 -p udp -j CT --notrack');
    for (let i = 0; i < 2; i++) {
      const again = await play(lab(), playbook(NOTRACK));
      expect(again.code).toBe(0);
      expect(changesOn(again.report, 'hv1')).toEqual([]);
    }
    expect(await rawRules()).toEqual(want);
  });

  test('a rule added by hand is drift: the table goes back to what is declared', async () => {
    await lab().exec('hv1', ['iptables', '-t', 'raw', '-I', 'PREROUTING', '-p', 'tcp', '-j', 'CT', '--notrack']);
    const check = await play(lab(), playbook(NOTRACK), { check: true });
    expect(changesOn(check.report, 'hv1').map((c) => c.target)).toEqual(['iptables:raw']);
    const r = await play(lab(), playbook(NOTRACK));
    expect(r.code).toBe(0);
    expect(await rawRules()).not.toContain('-A PREROUTING -p tcp -j CT --notrack');
  });

  test('an empty declaration tears the table down, and the file keeps other tables', async () => {
    await lab().writeFile(
      'hv1',
      '/etc/iptables/rules.v4',
      `*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n${(await lab().readFile('hv1', '/etc/iptables/rules.v4')) ?? ''}`,
    );
    const r = await play(lab(), playbook('{}'));
    expect(r.code).toBe(0);
    expect(await rawRules()).toEqual([]);
    const file = (await lab().readFile('hv1', '/etc/iptables/rules.v4')) ?? '';
    expect(file).toContain('-A INPUT -p tcp --dport 22 -j ACCEPT');
    expect(file).not.toContain('--notrack');
    const again = await play(lab(), playbook('{}'));
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });

  test('bad input: a rule with a quote or a second line is refused at validate, naming file:line:column', async () => {
    // the run prints its input errors and no report: nothing connected, nothing changed
    await expect(play(lab(), playbook('{PREROUTING: ["-j ACCEPT\\nCOMMIT"]}'))).rejects.toThrow(
      /playbook\.yml:\d+:\d+ .*must be one iptables rule on one line/,
    );
    expect(await rawRules()).toEqual([]);
  });
});
