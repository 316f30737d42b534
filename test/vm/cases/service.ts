// service under a real systemd (PID 1 of the VM): a running, enabled unit is stopped and
// disabled, and stays so across a reboot.

import { beforeAll, describe, expect, test } from 'vitest';
import type { VmClient } from '../../harness/vm.js';
import { changeLines, playOn } from '../vm.js';

const UNIT = 'hvtune-probe.service';
const playbook = `- name: quiet host
  hosts: vm
  tasks:
    - name: no probe
      service: { name: hvtune-probe, enabled: false, state: stopped }
`;

export function service(vm: () => VmClient) {
  const state = async () => ({
    active: (await vm().exec(['systemctl', 'is-active', UNIT])).stdout.trim(),
    enabled: (await vm().exec(['systemctl', 'is-enabled', UNIT])).stdout.trim(),
  });

  return {
    beforeReboot: () =>
      describe('service under systemd: stop and disable', () => {
        beforeAll(async () => {
          await vm().mustExec([
            'sh',
            '-c',
            `printf '[Unit]\\nDescription=hvtune lab probe\\n[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' >/etc/systemd/system/${UNIT}`,
          ]);
          await vm().mustExec(['systemctl', 'enable', '--now', UNIT]);
          expect(await state()).toEqual({ active: 'active', enabled: 'enabled' });
        });

        test('check lists stop and disable and changes nothing', async () => {
          const r = await playOn(vm(), playbook, { check: true });
          expect(r.code).toBe(2);
          expect(changeLines(r.report)).toHaveLength(2);
          expect(r.report.changes.map((c) => [c.before, c.after]).sort()).toEqual(
            [
              ['active', 'inactive'],
              ['enabled', 'disabled'],
            ].sort(),
          );
          expect(await state()).toEqual({ active: 'active', enabled: 'enabled' });
        });

        test('apply stops and disables it', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(r.report.changes).toHaveLength(2);
          expect(await state()).toEqual({ active: 'inactive', enabled: 'disabled' });
        });

        test('a second run reports zero changes', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(r.report.changes).toEqual([]);
        });
      }),

    afterReboot: () =>
      describe('service after the reboot', () => {
        test('it stays stopped; started by hand, the next run stops it again', async () => {
          expect(await state()).toEqual({ active: 'inactive', enabled: 'disabled' });
          await vm().mustExec(['systemctl', 'start', UNIT]);
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(r.report.changes.map((c) => [c.before, c.after])).toEqual([['active', 'inactive']]);
          expect(await state()).toEqual({ active: 'inactive', enabled: 'disabled' });
        });
      }),
  };
}
