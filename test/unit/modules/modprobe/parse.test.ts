import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseInitramfs, parseLive, parseSessionNic } from '../../../../modules/modprobe.js';
import { loadFixtures } from '../grub_cmdline/fixtures.js';

interface ParseFixture {
  command: string;
  output: string;
  observed: unknown;
}

describe.each(loadFixtures<ParseFixture>(fileURLToPath(new URL('./parse', import.meta.url))))('modprobe parse %s', (_f, fixture) => {
  it(fixture.command, () => {
    expect(parseLive(fixture.output)).toMatchObject(fixture.observed as object);
  });
});

describe('modprobe parse, shapes tier 1 cannot show', () => {
  it('a loaded loadable module has initstate and a use count; a write-only parameter has no value', () => {
    expect(parseLive('loadable\npresent\ninitstate=live\nrefcnt=0\nparam avic=Y\nparam secret\n')).toEqual({
      loadable: true,
      live: { state: 'loaded', refcnt: 0, params: { avic: 'Y', secret: null }, bound: [], holders: [] },
    });
  });
  it('a NIC driver carrying traffic: use count 0, but a device bound to its driver and a holder', () => {
    const out = 'loadable\npresent\ninitstate=live\nrefcnt=0\nbound pci:e1000e/0000:00:03.0\nholder macvtap\n';
    expect(parseLive(out).live).toMatchObject({ refcnt: 0, bound: ['pci:e1000e/0000:00:03.0'], holders: ['macvtap'] });
  });
  it('the initramfs: none, present and current, present and older than the module configuration', () => {
    expect(parseInitramfs('loadable\npresent\n')).toBeNull();
    expect(
      parseInitramfs('initramfs /boot/initrd.img-6.1.0-18-amd64\ninitramfs-tool update-initramfs\ninitramfs-tool lsinitramfs\n'),
    ).toEqual({
      image: '/boot/initrd.img-6.1.0-18-amd64',
      tools: ['update-initramfs', 'lsinitramfs'],
      olderThan: [],
      holds: null,
    });
    const stale =
      'initramfs /boot/initramfs-5.14.0.img\ninitramfs-tool dracut\ninitramfs-older-than /etc/modprobe.d/ixgbe.conf\ninitramfs-holds\n';
    expect(parseInitramfs(stale)).toMatchObject({ olderThan: ['/etc/modprobe.d/ixgbe.conf'], holds: true });
  });
  it('the NIC of the SSH session and the NICs the module drives', () => {
    expect(parseSessionNic('session-nic eno1 e1000e\ndriven-nic eno1\ndriven-nic eno2\n')).toEqual({
      sessionNic: { name: 'eno1', driver: 'e1000e' },
      drivenNics: ['eno1', 'eno2'],
    });
    expect(parseSessionNic('session-nic veth0 \n')).toEqual({ sessionNic: { name: 'veth0', driver: null }, drivenNics: [] });
    expect(parseSessionNic('')).toEqual({ sessionNic: null, drivenNics: [] });
  });
});
