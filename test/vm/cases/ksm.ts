// KSM stopped on a real kernel, as memory-and-disk.yml's ksm tasks do: the ksm and ksmtuned units
// (Debian ships neither: a missing unit counts as off) and /sys/kernel/mm/ksm/run = 2 (stop ksmd and
// unmerge every shared page), persisted by a tmpfiles line. KSM is started by hand first, so the
// stop is real; after the reboot tmpfiles has written it again.

import { describe, expect, test } from 'vitest';
import type { VmClient } from '../../harness/vm.js';
import { playOn } from '../vm.js';

const RUN = '/sys/kernel/mm/ksm/run';
const playbook = `- name: KSM off
  hosts: vm
  tasks:
    - name: ksm unit
      service: {name: ksm, enabled: false, state: stopped}
    - name: ksmtuned unit
      service: {name: ksmtuned, enabled: false, state: stopped}
    - name: ksmd stopped, shared pages unmerged
      sysfs: {path: ${RUN}, value: 2}
`;

export function ksm(vm: () => VmClient) {
  const run = async () => (await vm().mustExec(['cat', RUN])).trim();

  return {
    beforeReboot: () =>
      describe('KSM stopped', () => {
        test('KSM running by hand: check plans only the sysfs stop and changes nothing', async () => {
          await vm().mustExec(['sh', '-c', `echo 1 > ${RUN}`]);
          expect(await run()).toBe('1');
          const r = await playOn(vm(), playbook, { check: true });
          expect(r.code, r.stdout + r.stderr).toBe(2);
          expect(r.report.changes.map((c) => [c.task, c.before ?? null, c.after ?? null]).filter((c) => c[1] !== null)).toEqual([
            ['ksmd stopped, shared pages unmerged', '1', '2'],
          ]);
          expect(await run()).toBe('1');
        });

        test('apply stops ksmd (run reads 2); a second run changes nothing', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.code, r.stdout + r.stderr).toBe(0);
          expect(await run()).toBe('2');
          expect(await vm().mustExec(['sh', '-c', 'pgrep -c ksmd >/dev/null; cat /sys/kernel/mm/ksm/pages_shared'])).toMatch(/^0\s*$/);
          const again = await playOn(vm(), playbook);
          expect(again.code).toBe(0);
          expect(again.report.changes).toEqual([]);
        });
      }),

    afterReboot: () =>
      describe('KSM after the reboot', () => {
        test('tmpfiles stopped it again at boot, and a run changes nothing', async () => {
          expect(await run()).toBe('2');
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(r.report.changes).toEqual([]);
        });
      }),
  };
}
