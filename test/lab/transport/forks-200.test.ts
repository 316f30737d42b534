// 200 lab hosts with --forks 200 on this 2-core machine: every host converges and none is reported
// unreachable. Before handshakes were bounded (src/transport/handshake-slots.ts), 200 handshakes at
// once queued behind each other on the controller's CPU and hosts timed out after 10 s although
// they answered at once.
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { play } from '../play.js';

const lab = useLab({ hosts: 200 });

const PLAYBOOK = `
- name: two hundred
  hosts: lab
  tasks:
    - name: fin timeout
      sysctl: { values: { net.ipv4.tcp_fin_timeout: 42 } }
`;

describe('200 hosts, --forks 200', () => {
  it('apply then re-run: no host unreachable, every host converged', async () => {
    for (const round of ['apply', 're-run']) {
      const started = performance.now();
      const r = await play(lab(), PLAYBOOK, { args: ['--forks', '200', '--timeout', '10'] });
      const unreachable = Object.entries(r.report.recap)
        .filter(([, h]) => h.unreachable)
        .map(([name]) => name);
      console.log(
        `200 hosts, --forks 200, ${round}: ${((performance.now() - started) / 1000).toFixed(1)} s, ${unreachable.length} unreachable`,
      );
      expect(unreachable).toEqual([]);
      expect(r.code, r.stderr).toBe(0);
      expect(Object.keys(r.report.recap)).toHaveLength(200);
    }
  });
});
