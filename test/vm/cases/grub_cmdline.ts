// grub_cmdline for real: the VM boots through its own GRUB, so arguments written to
// /etc/default/grub reach /proc/cmdline only through update-grub and a reboot.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { VmClient } from '../../harness/vm.js';
import type { Report } from '../../lab/play.js';
import { changeLines, playOn } from '../vm.js';

const ARGS = ['hugepagesz=2M', 'hugepages=16', 'transparent_hugepage=madvise'];
const playbook = `- name: huge pages from boot
  hosts: vm
  tasks:
    - name: kernel arguments
      grub_cmdline:
        present: [${ARGS.join(', ')}]
`;
const COUNTER = '/run/update-grub.count';

const pendingReboots = (report: Report) => report.recap.vm1.pending.filter((p) => p.effect === 'reboot').map((p) => p.target);

export function grubCmdline(vm: () => VmClient) {
  const cmdline = async () => (await vm().mustExec(['cat', '/proc/cmdline'])).trim().split(/\s+/);
  const linuxLines = async () => (await vm().mustExec(['cat', '/boot/grub/grub.cfg'])).split('\n').filter((l) => /^\s*linux\s/.test(l));

  return {
    beforeReboot: () =>
      describe('grub_cmdline: update-grub, and the reboot pending', () => {
        beforeAll(async () => {
          // Count update-grub runs: a local diversion puts a counting wrapper in front of the real one.
          await vm().mustExec(['dpkg-divert', '--local', '--rename', '--add', '/usr/sbin/update-grub']);
          await vm().mustExec([
            'sh',
            '-c',
            `printf '#!/bin/sh\\necho run >>${COUNTER}\\nexec /usr/sbin/update-grub.distrib "$@"\\n' >/usr/sbin/update-grub && chmod 755 /usr/sbin/update-grub`,
          ]);
        });

        afterAll(async () => {
          await vm().exec(['sh', '-c', 'rm -f /usr/sbin/update-grub && dpkg-divert --local --rename --remove /usr/sbin/update-grub']);
        });

        test('the VM booted through GRUB without the arguments', async () => {
          expect(await cmdline()).toContain('BOOT_IMAGE=/boot/vmlinuz-' + (await vm().mustExec(['uname', '-r'])).trim());
          expect(await cmdline()).not.toContain('hugepages=16');
        });

        test('check shows the change and writes nothing', async () => {
          const before = await vm().mustExec(['cat', '/etc/default/grub']);
          const r = await playOn(vm(), playbook, { check: true, diff: true });
          expect(r.code).toBe(2);
          expect(changeLines(r.report)).toEqual(['kernel arguments: /etc/default/grub (reboot)']);
          expect(r.report.changes[0].diff).toContain(`+GRUB_CMDLINE_LINUX="console=ttyS0 ${ARGS.join(' ')}"`);
          expect(await vm().mustExec(['cat', '/etc/default/grub'])).toBe(before);
          expect((await vm().exec(['cat', COUNTER])).code).not.toBe(0);
        });

        test('apply persists the arguments, runs update-grub once, and reports a pending reboot', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(changeLines(r.report)).toEqual(['kernel arguments: /etc/default/grub (reboot)']);
          expect((await vm().mustExec(['cat', COUNTER])).trim().split('\n')).toEqual(['run']);
          const grubDefault = await vm().mustExec(['sh', '-c', '. /etc/default/grub && echo "$GRUB_CMDLINE_LINUX"']);
          for (const arg of ARGS) expect(grubDefault.trim().split(/\s+/)).toContain(arg);
          // The regenerated grub.cfg boots every entry with them; the running kernel does not have them yet.
          const lines = await linuxLines();
          expect(lines.length).toBeGreaterThan(0);
          for (const line of lines) for (const arg of ARGS) expect(line.split(/\s+/)).toContain(arg);
          expect(await cmdline()).not.toContain('hugepages=16');
          // the change made leaves its reboot pending; from the next run on, each missing argument is listed
          expect(pendingReboots(r.report)).toEqual(['/etc/default/grub']);
        });

        test('a second run before the reboot changes nothing but still lists the pending reboot', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(r.report.changes).toEqual([]);
          expect(pendingReboots(r.report)).toEqual(ARGS.map((a) => `cmdline:${a}`));
          expect((await vm().mustExec(['cat', COUNTER])).trim().split('\n')).toEqual(['run']);
        });

        test('a boot config that lost the arguments (an interrupted update-grub) is found and regenerated', async () => {
          // what an update-grub interrupted before writing grub.cfg leaves: the defaults file has them, the boot config not
          await vm().mustExec(['sed', '-i', 's/ hugepages=16//', '/boot/grub/grub.cfg']);
          const check = await playOn(vm(), playbook, { check: true });
          expect(check.code).toBe(2);
          expect(changeLines(check.report)).toEqual(['kernel arguments: /boot/grub/grub.cfg (reboot)']);
          expect(check.report.changes[0].summary).toMatch(/lacks hugepages=16, which \/etc\/default\/grub has/);
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect((await vm().mustExec(['cat', COUNTER])).trim().split('\n')).toEqual(['run', 'run']);
          for (const line of await linuxLines()) for (const arg of ARGS) expect(line.split(/\s+/)).toContain(arg);
          expect((await playOn(vm(), playbook)).report.changes).toEqual([]);
        });
      }),

    afterReboot: () =>
      describe('grub_cmdline after the reboot', () => {
        test('/proc/cmdline carries the arguments and the kernel reserved the pages', async () => {
          const args = await cmdline();
          for (const arg of ARGS) expect(args).toContain(arg);
          expect(await vm().mustExec(['cat', '/proc/sys/vm/nr_hugepages'])).toBe('16\n');
          expect(await vm().mustExec(['cat', '/sys/kernel/mm/transparent_hugepage/enabled'])).toContain('[madvise]');
        });

        test('zero changes and no pending reboot', async () => {
          const r = await playOn(vm(), playbook);
          expect(r.code).toBe(0);
          expect(r.report.changes).toEqual([]);
          expect(r.report.recap.vm1.pending).toEqual([]);
        });
      }),
  };
}
