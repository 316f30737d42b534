// lineinfile on a tier-1 lab host: one line of a file someone else owns, replaced or added with
// Ansible's semantics, never duplicated, the rest of the file and its mode left alone.

import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { play } from '../play.js';

const lab = useLab({ hosts: 1 });
const PATH = '/etc/default/qemu-kvm';
const ORIGINAL = '# qemu-kvm defaults\nKVM_HUGEPAGES=0\n# KSM settings\nKSM_ENABLED=1\nSLEEP_MILLISECS=200\n';

const playbook = `
- name: qemu-kvm defaults
  hosts: lab
  tasks:
    - name: KSM off (seed 002)
      lineinfile: { path: ${PATH}, regexp: "^KSM_ENABLED=", line: KSM_ENABLED=0 }
    - name: hvtune marker after the KSM block
      lineinfile: { path: ${PATH}, line: "# tuned by hvtune", insertafter: "^# KSM" }
`;

describe('lineinfile', () => {
  it('check mode shows both edits as diffs and changes nothing', async () => {
    const h = lab().hosts[0];
    await lab().writeFile(h, PATH, ORIGINAL, 0o600);
    const r = await play(lab(), playbook, { check: true, diff: true });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.report.changes.map((c) => c.target)).toEqual([PATH, PATH]);
    expect(r.report.changes[0].diff).toContain('-KSM_ENABLED=1\n+KSM_ENABLED=0');
    // the second task plans on the file as the first would leave it
    expect(r.report.changes[1].diff).toContain(' KSM_ENABLED=0');
    expect(await lab().readFile(h, PATH)).toBe(ORIGINAL);
  });

  it('apply edits exactly those lines, keeps the mode; a second run changes nothing', async () => {
    const h = lab().hosts[0];
    const r = await play(lab(), playbook);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await lab().readFile(h, PATH)).toBe(
      '# qemu-kvm defaults\nKVM_HUGEPAGES=0\n# KSM settings\n# tuned by hvtune\nKSM_ENABLED=0\nSLEEP_MILLISECS=200\n',
    );
    expect((await lab().exec(h, ['stat', '-c', '%a', PATH])).stdout.trim()).toBe('600');
    const again = await play(lab(), playbook);
    expect(again.code).toBe(0);
    expect(again.report.changes).toEqual([]);
  });

  it('finds a hand edit of the line and puts it back, leaving the hand-added lines', async () => {
    const h = lab().hosts[0];
    const text = (await lab().readFile(h, PATH))!.replace('KSM_ENABLED=0', 'KSM_ENABLED=1') + 'EXTRA=1\n';
    await lab().writeFile(h, PATH, text, 0o600);
    const check = await play(lab(), playbook, { check: true });
    expect(check.report.changes.map((c) => [c.task, c.summary])).toEqual([['KSM off (seed 002)', `replace line 5 of ${PATH}`]]);
    expect((await play(lab(), playbook)).code).toBe(0);
    expect(await lab().readFile(h, PATH)).toBe(text.replace('KSM_ENABLED=1', 'KSM_ENABLED=0'));
  });

  it('a missing file is an error in check mode unless create is set; absent removes the lines', async () => {
    const missing = playbook.replace(PATH, '/etc/default/nope').split('\n').slice(0, 6).join('\n');
    const r = await play(lab(), missing, { check: true });
    expect(r.code).toBe(1);
    expect(r.report.failures[0].message).toContain('/etc/default/nope does not exist; set create: true');
    const absent = `
- name: cleanup
  hosts: lab
  tasks:
    - name: no KSM lines
      lineinfile: { path: ${PATH}, regexp: "^KSM_", state: absent }
`;
    expect((await play(lab(), absent)).code).toBe(0);
    expect(await lab().readFile(lab().hosts[0], PATH)).not.toMatch(/^KSM_/m);
    expect((await play(lab(), absent)).report.changes).toEqual([]);
  });
});
