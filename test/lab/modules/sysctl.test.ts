// sysctl on a lab host: every live value set by one `sysctl -w` and read back by one `grep`, and a
// value the kernel refuses named in the failure with the persisted file put back.
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const FILE = '/etc/sysctl.d/61-lab.conf';

const playbook = (values: Record<string, string | number>) => `
- name: sysctl
  hosts: lab
  tasks:
    - name: values
      sysctl:
        file: ${FILE}
        values: ${JSON.stringify(values)}
`;

describe('sysctl on a lab host', () => {
  it('sets several keys live and persisted, then changes nothing', async () => {
    const values = { 'net.ipv4.tcp_fin_timeout': 37, 'net.ipv4.tcp_rmem': '4096 87381 6291457', 'net.core.somaxconn': 2049 };
    const first = await play(lab(), playbook(values));
    expect(first.code, first.stdout).toBe(0);
    const host = lab().hosts[0];
    for (const [key, value] of Object.entries(values)) {
      const live = await lab().readFile(host, `/proc/sys/${key.replaceAll('.', '/')}`);
      expect(live?.trim().split(/\s+/).join(' ')).toBe(String(value));
    }
    expect(await lab().readFile(host, FILE)).toContain('net.core.somaxconn = 2049');
    const again = await play(lab(), playbook(values));
    expect(again.code).toBe(0);
    expect(changesOn(again.report, host.name)).toEqual([]);
  });

  it('names a key the kernel refuses, sets the others, and leaves the persisted file as it was', async () => {
    const host = lab().hosts[0];
    const before = await lab().readFile(host, FILE);
    // the low end above the high end: EINVAL from the kernel
    const r = await play(lab(), playbook({ 'net.ipv4.tcp_fin_timeout': 38, 'net.ipv4.ip_local_port_range': '60000 1024' }));
    expect(r.code).not.toBe(0);
    expect(JSON.stringify(r.report)).toMatch(/net\.ipv4\.ip_local_port_range.*Invalid argument/);
    expect(await lab().readFile(host, FILE)).toBe(before);
    expect((await lab().readFile(host, '/proc/sys/net/ipv4/tcp_fin_timeout'))?.trim()).toBe('38');
  });
});
