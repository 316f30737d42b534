// service on tier-1 lab hosts, whose PID 1 is sshd: the module refuses clearly, in check mode too,
// and touches nothing. The systemd timeline (enable/disable/start/stop read back) needs the
// full-VM tier, where systemd is PID 1.

import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { play } from '../play.js';

const lab = useLab({ hosts: 1 });

const playbook = `
- name: ksm off
  hosts: lab
  tasks:
    - name: ksm
      service: { name: ksm, enabled: false, state: stopped }
`;

describe('service without systemd', () => {
  it.each([true, false])('check=%s: a clear error naming PID 1, exit 1, no change', async (check) => {
    const r = await play(lab(), playbook, { check });
    expect(r.code).toBe(1);
    expect(r.report.changes).toEqual([]);
    expect(r.report.failures).toHaveLength(1);
    expect(r.report.failures[0]).toMatchObject({ host: lab().hosts[0].name, task: 'ksm' });
    expect(r.report.failures[0].message).toContain(
      'cannot manage ksm.service: PID 1 is "sshd", not systemd (the service module works only through systemctl)',
    );
  });
});
