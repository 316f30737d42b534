// modprobe for real: a loadable module (nbd; nbds_max is read-only in /sys, so only a reload
// changes it) gets its options persisted, is reloaded while unused, read back from /sys/module,
// and loaded at boot with those options after a real reboot.

import { describe, expect, test } from 'vitest';
import type { VmClient } from '../../harness/vm.js';
import { changeLines, playOn } from '../vm.js';

const playbook = `- name: network block devices
  hosts: vm
  tasks:
    - name: nbd devices
      modprobe: { module: nbd, options: { nbds_max: 4 }, load: boot, reload: if-unused }
`;
const CONF = '/etc/modprobe.d/hvtune-nbd.conf';
const LOAD = '/etc/modules-load.d/nbd.conf';

export function modprobe(vm: () => VmClient) {
  const nbdsMax = async () => (await vm().mustExec(['cat', '/sys/module/nbd/parameters/nbds_max'])).trim();
  const nbdDevices = async () => (await vm().mustExec(['sh', '-c', 'ls -d /sys/block/nbd* | wc -l'])).trim();

  return {
    beforeReboot: () =>
      describe('modprobe: options, reload of an unused module, load at boot', () => {
        test('a module loaded by hand with other options: check lists files and the reload, changes nothing', async () => {
          await vm().mustExec(['modprobe', 'nbd', 'nbds_max=2']);
          expect(await nbdsMax()).toBe('2');
          const r = await playOn(vm(), playbook, { check: true });
          expect(r.code).toBe(2);
          expect(changeLines(r.report)).toEqual([
            `nbd devices: ${CONF} (persistent)`,
            `nbd devices: ${LOAD} (persistent)`,
            'nbd devices: module:nbd (module-reload)',
          ]);
          expect(await nbdsMax()).toBe('2');
          expect((await vm().exec(['test', '-e', CONF])).code).toBe(1);
        });

        test('apply writes the options and reloads the module: /sys/module shows them', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(r.report.changes).toHaveLength(3);
          expect(await vm().mustExec(['cat', CONF])).toContain('options nbd nbds_max=4\n');
          expect(await vm().mustExec(['cat', LOAD])).toContain('nbd\n');
          expect(await nbdsMax()).toBe('4');
          expect(await nbdDevices()).toBe('4');
          expect(r.report.recap.vm1.pending).toEqual([]);
        });

        test('a second run reports zero changes', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(r.report.changes).toEqual([]);
          expect(r.report.recap.vm1.pending).toEqual([]);
        });
      }),

    afterReboot: () =>
      describe('modprobe after the reboot', () => {
        test('the module is loaded at boot with the options; a run changes nothing', async () => {
          expect(await nbdsMax()).toBe('4');
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(r.report.changes).toEqual([]);
        });
      }),
  };
}
