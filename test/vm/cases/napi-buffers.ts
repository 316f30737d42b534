// Host-wide network sysctls of kvm-host-network.yml on a real kernel (a tier-1 host is a network
// namespace, where the NAPI keys are absent and the buffer ceilings read-only): NAPI budget and
// its time limit, socket buffer ceilings. Applied live, persisted in sysctl.d, still set after
// the reboot (systemd-sysctl applies the file at boot).
//
// rx-flow-hash is not covered here: the VM's virtio-net has no RSS (QEMU's virtio-net-pci needs
// rss=on for ethtool -N) and e1000e has no flow-hash setting; the ethtool module's plan tests hold it.

import { describe, expect, test } from 'vitest';
import type { VmClient } from '../../harness/vm.js';
import { changeLines, playOn } from '../vm.js';

const FILE = '/etc/sysctl.d/60-hvtune-net-host.conf';
// Values the kernel does not have by default (300, 8000 here, 212992), so every one is a change.
// netdev_budget_usecs only above the default: this kernel (HZ=250) refused 4000 with EINVAL.
const WANT = {
  'net.core.netdev_budget': '600',
  'net.core.netdev_budget_usecs': '12000',
  'net.core.rmem_max': '16777216',
  'net.core.wmem_max': '16777216',
};
const playbook = `- name: host-wide network sysctls
  hosts: vm
  tasks:
    - name: NAPI budget
      sysctl:
        file: ${FILE}
        values: { net.core.netdev_budget: 600, net.core.netdev_budget_usecs: 12000 }
    - name: socket buffer ceilings
      sysctl:
        file: ${FILE}
        values: { net.core.rmem_max: 16777216, net.core.wmem_max: 16777216 }
`;

export function napiBuffers(vm: () => VmClient) {
  const live = async () => {
    const out = await vm().mustExec(['sysctl', '-n', ...Object.keys(WANT)]);
    return Object.fromEntries(Object.keys(WANT).map((k, i) => [k, out.split('\n')[i]?.trim()]));
  };

  return {
    beforeReboot: () =>
      describe('NAPI budget and socket buffer ceilings on a real kernel', () => {
        test('check lists each key live and the file, and changes nothing', async () => {
          const before = await live();
          const r = await playOn(vm(), playbook, { check: true });
          expect(r.code, r.stdout + r.stderr).toBe(2);
          expect(changeLines(r.report)).toEqual(
            expect.arrayContaining(Object.keys(WANT).map((k) => expect.stringContaining(`sysctl:${k} (live)`))),
          );
          expect(await live()).toEqual(before);
        });

        test('apply sets them (read back with sysctl) and persists them; a second run changes nothing', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.code, r.stdout + r.stderr).toBe(0);
          expect(await live()).toEqual(WANT);
          const file = await vm().mustExec(['cat', FILE]);
          for (const [k, v] of Object.entries(WANT)) expect(file).toContain(`${k} = ${v}`);
          const again = await playOn(vm(), playbook);
          expect(again.code).toBe(0);
          expect(again.report.changes).toEqual([]);
        });
      }),

    afterReboot: () =>
      describe('NAPI budget and buffer ceilings after the reboot', () => {
        test('the kernel booted with them, and a run changes nothing', async () => {
          expect(await live()).toEqual(WANT);
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(r.report.changes).toEqual([]);
        });
      }),
  };
}
