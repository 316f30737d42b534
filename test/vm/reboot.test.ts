// The full-VM tier in one timeline around one real reboot, made by hvtune itself. A reboot under
// TCG costs minutes on a loaded machine, and one proves every kind of persistence at once: each
// module is checked, applied and re-run (zero changes) first; then one `hvtune play` changes a
// module option that only a reload makes live, finds the kernel arguments still pending, reboots
// the VM with the reboot module (when_pending), reconnects on the new boot id and verifies both
// live; then each module's persisted state is checked live — the kernel command line
// (grub_cmdline), options of a module loaded at boot (modprobe), a unit left disabled (service),
// NIC settings restored by .link files and udev rules (ethtool), NIC queue interrupts put back by
// name by hvtune's boot unit (irq_affinity), host-wide network sysctls applied at boot, KSM stopped
// again by tmpfiles — and a run changes nothing. A started domain is out of reach here (no nested
// KVM under TCG, and a TCG guest in this VM would take minutes to boot): domains started with
// multi-queue or huge pages run in tier-1 lab tests instead.

import { describe, expect, test } from 'vitest';
import { ethtool } from './cases/ethtool.js';
import { grubCmdline } from './cases/grub_cmdline.js';
import { ksm } from './cases/ksm.js';
import { irqAffinity } from './cases/irq_affinity.js';
import { modprobe } from './cases/modprobe.js';
import { napiBuffers } from './cases/napi-buffers.js';
import { service } from './cases/service.js';
import { changeLines, playOn, useVm } from './vm.js';

const vm = useVm();
const cases = [grubCmdline(vm), modprobe(vm), service(vm), ethtool(vm), napiBuffers(vm), ksm(vm), irqAffinity(vm)];

for (const c of cases) c.beforeReboot();

// The grub_cmdline case's kernel arguments (applied, pending a reboot) and one more (panic=30,
// harmless), which update-grub must write before the reboot; and one more nbd option than the
// modprobe case (nbd is loaded: max_part applies at its next load). The kernel keeps max_part as
// 2^n - 1 (8 reads back as 15: the verification after the reboot caught that), so 15.
const BOOT_TIME = `- name: make boot-time settings live
  hosts: vm
  tasks:
    - name: kernel arguments
      grub_cmdline:
        present: [hugepagesz=2M, hugepages=16, transparent_hugepage=madvise, panic=30]
    - name: nbd partitions
      modprobe: { module: nbd, options: { nbds_max: 4, max_part: 15 }, load: boot }
    - name: reboot if anything waits for it
      reboot: { when_pending: true, boot_timeout: 1500 }
`;

describe('one real reboot, by the reboot module', () => {
  const bootId = async () => (await vm().mustExec(['cat', '/proc/sys/kernel/random/boot_id'])).trim();
  const maxPart = async () => (await vm().mustExec(['cat', '/sys/module/nbd/parameters/max_part'])).trim();

  test('check mode says it would reboot and why, and changes nothing', async () => {
    const before = await bootId();
    const r = await playOn(vm(), BOOT_TIME, { check: true });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const reboot = r.report.changes.find((c) => c.module === 'reboot');
    expect(reboot?.summary).toMatch(/^reboot vm1: .*\/etc\/default\/grub.*module:nbd/);
    expect(await bootId()).toBe(before);
    expect(await maxPart()).not.toBe('15');
  });

  test('one play persists the option, reboots once, reconnects and finds everything live', async () => {
    const before = await bootId();
    const started = Date.now();
    const r = await playOn(vm(), BOOT_TIME);
    console.log(`hvtune play with the reboot: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(r.report.failures).toEqual([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changeLines(r.report)).toEqual(expect.arrayContaining(['reboot if anything waits for it: reboot:vm1 (reboot)']));
    expect(r.report.recap.vm1.pending).toEqual([]);
    expect(await bootId()).not.toBe(before);
    expect((await vm().mustExec(['cat', '/proc/cmdline'])).trim().split(/\s+/)).toContain('panic=30');
    expect(await maxPart()).toBe('15');
  });

  test('a second run changes nothing, has nothing pending, and does not reboot', async () => {
    const before = await bootId();
    const r = await playOn(vm(), BOOT_TIME);
    expect(r.code).toBe(0);
    expect(r.report.changes).toEqual([]);
    expect(r.report.recap.vm1.pending).toEqual([]);
    expect(await bootId()).toBe(before);
  });
});

for (const c of cases) c.afterReboot();
