// The full-VM tier in one timeline around one real reboot. A reboot under TCG costs minutes on a
// loaded machine, and one proves every kind of persistence at once: each module is checked,
// applied and re-run (zero changes) first; then the VM reboots through its own GRUB; then each
// module's persisted state is checked live — the kernel command line (grub_cmdline), options of a
// module loaded at boot (modprobe), a unit left disabled (service), NIC settings restored by
// .link files and udev rules (ethtool) — and a run changes nothing.

import { describe, expect, test } from 'vitest';
import { ethtool } from './cases/ethtool.js';
import { grubCmdline } from './cases/grub_cmdline.js';
import { modprobe } from './cases/modprobe.js';
import { service } from './cases/service.js';
import { useVm } from './vm.js';

const vm = useVm();
const cases = [grubCmdline(vm), modprobe(vm), service(vm), ethtool(vm)];

for (const c of cases) c.beforeReboot();

describe('one real reboot', () => {
  test('the VM comes back with a new boot id', async () => {
    const bootId = async () => (await vm().mustExec(['cat', '/proc/sys/kernel/random/boot_id'])).trim();
    const before = await bootId();
    await vm().reboot();
    expect(await bootId()).not.toBe(before);
  });
});

for (const c of cases) c.afterReboot();
