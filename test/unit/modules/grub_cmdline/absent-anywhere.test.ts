// `absent` means gone from the boot line: on Debian's stock /etc/default/grub (a copy of the file
// grub2-common 2.06-13+deb12u2 ships) `quiet` lives in GRUB_CMDLINE_LINUX_DEFAULT, and removing it
// must edit that variable and say so, while `present` stays in the declared variable.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import grub_cmdline, { type GrubCmdlineObserved } from '../../../../modules/grub_cmdline.js';
import { planContext } from './fixtures.js';

const STOCK = readFileSync(new URL('../../../fixtures/grub/debian12-default-grub', import.meta.url), 'utf8');
const observed = (main: string): GrubCmdlineObserved => ({
  main,
  dropIns: {},
  live: 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=0b1e ro quiet\n',
  boot: { kind: 'update-grub' },
});
const plan = (args: object, main = STOCK) => grub_cmdline.plan(args, observed(main), planContext({}));

describe('grub_cmdline absent on Debian 12 stock /etc/default/grub', () => {
  it('removes quiet from GRUB_CMDLINE_LINUX_DEFAULT, where it is, and the plan says where', () => {
    const { changes } = plan({ absent: ['quiet'] });
    expect(changes).toHaveLength(1);
    const [change] = changes;
    expect(change.effect).toBe('reboot');
    expect(change.summary).toContain('removed quiet from GRUB_CMDLINE_LINUX_DEFAULT (/etc/default/grub:9)');
    const after = change.diff!.after;
    expect(after).toContain('\nGRUB_CMDLINE_LINUX_DEFAULT=""\n');
    expect(after).toContain('\nGRUB_CMDLINE_LINUX=""\n');
    // every other byte of the stock file stays
    expect(after).toBe(STOCK.replace('GRUB_CMDLINE_LINUX_DEFAULT="quiet"', 'GRUB_CMDLINE_LINUX_DEFAULT=""'));
  });

  it('present goes to the declared variable while absent is taken out of the other one', () => {
    const [change] = plan({ present: ['iommu=pt'], absent: ['quiet'] }).changes;
    expect(change.diff!.after).toContain('\nGRUB_CMDLINE_LINUX_DEFAULT=""\nGRUB_CMDLINE_LINUX="iommu=pt"\n');
    const [defaultVariable] = plan({ present: ['iommu=pt'], variable: 'GRUB_CMDLINE_LINUX_DEFAULT' }).changes;
    expect(defaultVariable.diff!.after).toContain('\nGRUB_CMDLINE_LINUX_DEFAULT="quiet iommu=pt"\nGRUB_CMDLINE_LINUX=""\n');
  });

  it('once applied, the same task plans nothing (idempotent)', () => {
    const [change] = plan({ absent: ['quiet'] }).changes;
    const second = grub_cmdline.plan({ absent: ['quiet'] }, { ...observed(change.diff!.after), live: 'ro\n' }, planContext({}));
    expect(second.changes).toEqual([]);
    expect(second.pending ?? []).toEqual([]);
  });

  it('absent from both variables: each is edited, the summary names the other one', () => {
    const both = STOCK.replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="quiet splash"');
    const [change] = plan({ absent: ['quiet'] }, both).changes;
    expect(change.diff!.after).toContain('\nGRUB_CMDLINE_LINUX_DEFAULT=""\nGRUB_CMDLINE_LINUX="splash"\n');
    expect(change.summary).toContain('removed quiet from GRUB_CMDLINE_LINUX_DEFAULT');
  });

  it('a present the other variable overrides is still refused, naming it', () => {
    const later = STOCK.replace('GRUB_CMDLINE_LINUX_DEFAULT="quiet"', 'GRUB_CMDLINE_LINUX_DEFAULT="quiet hugepages=4"');
    expect(() => plan({ present: ['hugepages=16'] }, later)).toThrow('manage those arguments in GRUB_CMDLINE_LINUX_DEFAULT');
  });
});
