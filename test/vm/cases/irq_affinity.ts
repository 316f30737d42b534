// irq_affinity on real queue interrupts: the VM's virtio-net (ens3, 4 queue pairs, 2 vCPUs).
// Its queue interrupts are moved to CPU 1 and banned from irqbalance, read back by a user's
// means (/proc/interrupts names, /proc/irq/N/smp_affinity_list); after the reboot, when the
// interrupt numbers are new, the boot unit hvtune installed has put them back.

import { describe, expect, test } from 'vitest';
import type { VmClient } from '../../harness/vm.js';
import { changeLines, playOn } from '../vm.js';

const playbook = `- name: NIC interrupts
  hosts: vm
  tasks:
    - name: virtio-net queues
      irq_affinity: { device: ens3, cpus: "1", irqbalance: ban }
`;
const CONF = '/etc/hvtune/irq-affinity.d/ens3.conf';
const UNIT = 'hvtune-irq-affinity.service';

export function irqAffinity(vm: () => VmClient) {
  /** Each virtio0 queue interrupt (input.N / output.N) → the CPUs it may run on, as a user reads them. */
  async function queueAffinity(): Promise<Record<string, string>> {
    const out = await vm().mustExec([
      'sh',
      '-c',
      `awk '$NF ~ /^virtio0-(input|output)\\.[0-9]+$/ { sub(":", "", $1); print $1, $NF }' /proc/interrupts |
       while read irq name; do echo "$name $(cat /proc/irq/$irq/smp_affinity_list)"; done`,
    ]);
    return Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
  }
  const allOnCpu1 = (a: Record<string, string>) => Object.values(a).every((cpus) => cpus === '1');

  return {
    beforeReboot: () =>
      describe('irq_affinity: virtio-net queue interrupts on chosen CPUs, banned from irqbalance', () => {
        test('the VM starts with 8 queue interrupts, not all on CPU 1, and irqbalance installed', async () => {
          const a = await queueAffinity();
          expect(Object.keys(a).sort()).toEqual([0, 1, 2, 3].flatMap((q) => [`virtio0-input.${q}`, `virtio0-output.${q}`]).sort());
          expect(allOnCpu1(a)).toBe(false);
          expect((await vm().exec(['test', '-x', '/usr/sbin/irqbalance'])).code).toBe(0);
        });

        test('check lists the moves and the files and changes nothing', async () => {
          const before = await queueAffinity();
          const r = await playOn(vm(), playbook, { check: true });
          expect(r.code, r.stdout + r.stderr).toBe(2);
          const targets = r.report.changes.map((c) => c.target);
          expect(targets).toEqual(
            expect.arrayContaining([
              '/usr/local/libexec/hvtune/irq-affinity',
              `/etc/systemd/system/${UNIT}`,
              CONF,
              '/etc/default/irqbalance',
              `service:${UNIT}/enabled`,
            ]),
          );
          const after = await queueAffinity();
          // irqbalance runs in the VM and may move a queue between these reads and hvtune's: the
          // plan moves what hvtune read, which lies between `before` and `after`
          const offCpu1 = (a: Record<string, string>) =>
            Object.entries(a)
              .filter(([, cpus]) => cpus !== '1')
              .map(([name]) => `irq:ens3/${name}`);
          const planned = targets.filter((t) => t.startsWith('irq:'));
          for (const t of offCpu1(before).filter((t) => offCpu1(after).includes(t))) expect(planned).toContain(t);
          for (const t of planned) expect([...offCpu1(before), ...offCpu1(after)]).toContain(t);
          // check mode moved nothing and wrote nothing
          expect(allOnCpu1(after)).toBe(false);
          expect((await vm().exec(['test', '-e', CONF])).code).toBe(1);
        });

        test('apply puts every queue interrupt on CPU 1, bans CPU 1 in irqbalance and enables the boot unit', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.report.failures).toEqual([]);
          expect(r.code, r.stdout + r.stderr).toBe(0);
          expect(allOnCpu1(await queueAffinity())).toBe(true);
          const defaults = await vm().mustExec(['cat', '/etc/default/irqbalance']);
          expect(defaults).toMatch(/^IRQBALANCE_BANNED_CPULIST="1"$/m);
          expect(defaults).toContain('--policyscript=/usr/local/libexec/hvtune/irq-affinity');
          expect((await vm().exec(['systemctl', 'is-enabled', UNIT])).stdout.trim()).toBe('enabled');
          // irqbalance asks the policy script about each interrupt: ours are banned, others are not
          const irq = (
            await vm().mustExec(['sh', '-c', 'awk \'$NF == "virtio0-input.0" { sub(":", "", $1); print $1 }\' /proc/interrupts'])
          ).trim();
          expect(await vm().mustExec(['/usr/local/libexec/hvtune/irq-affinity', '/sys/devices/pci0000:00/0000:00:03.0', irq])).toBe(
            'ban=true\n',
          );
          expect(await vm().mustExec(['/usr/local/libexec/hvtune/irq-affinity', '/sys/devices/pci0000:00/0000:00:06.0', '1'])).toBe('');
          console.log(`irq_affinity changes: ${changeLines(r.report).join('; ')}`);
        });

        test('a second run reports zero changes', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.code, r.stdout + r.stderr).toBe(0);
          expect(r.report.changes).toEqual([]);
        });
      }),

    afterReboot: () =>
      describe('irq_affinity after the reboot', () => {
        test('the boot unit put every queue interrupt back on CPU 1, and a run changes nothing', async () => {
          // the unit is oneshot in multi-user.target, which may still be starting when ssh answers
          let state = '';
          for (let i = 0; i < 60; i++) {
            state = (await vm().exec(['systemctl', 'is-active', UNIT])).stdout.trim();
            if (state !== 'activating' && state !== 'inactive') break;
            await new Promise((ok) => setTimeout(ok, 2000));
          }
          expect(state).toBe('active');
          expect(allOnCpu1(await queueAffinity())).toBe(true);
          const r = await playOn(vm(), playbook);
          expect(r.code, r.stdout + r.stderr).toBe(0);
          expect(r.report.changes).toEqual([]);
        });
      }),
  };
}
