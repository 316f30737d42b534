// System facts: distribution (/etc/os-release), init system, the boot-config tool that makes a
// kernel cmdline persistent, and which ethtool persistence mechanisms the host offers.

import type { BootFacts, EthtoolPersistence, Facts } from './types.js';
import { type RawFacts, sectionLines } from './sections.js';

/** Remove os-release quoting: KEY="a \"b\"" → a "b". */
function unquoteOsRelease(value: string): string {
  const v = value.trim();
  const m = /^(["'])(.*)\1$/.exec(v);
  return m ? m[2].replace(/\\(["'$`\\])/g, '$1') : v;
}

export function parseOsRelease(lines: readonly string[]): Facts['distribution'] {
  const kv = new Map<string, string>();
  for (const line of lines) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) kv.set(m[1], unquoteOsRelease(m[2]));
  }
  if (!kv.size) return undefined;
  return {
    id: kv.get('ID') ?? 'linux',
    version: kv.get('VERSION_ID') ?? '',
    name: kv.get('PRETTY_NAME') ?? kv.get('NAME') ?? '',
    like: (kv.get('ID_LIKE') ?? '').split(/\s+/).filter(Boolean),
  };
}

/** Command names found by `command -v` (paths → basenames). */
export function parseCommands(raw: RawFacts): Set<string> {
  return new Set((sectionLines(raw, 'commands') ?? []).map((l) => l.trim().split('/').pop() ?? '').filter(Boolean));
}

export function parseExists(raw: RawFacts): Set<string> {
  return new Set((sectionLines(raw, 'exists') ?? []).map((l) => l.trim()).filter((l) => l.startsWith('/')));
}

/**
 * Which tool regenerates the boot config. Fedora/RHEL with BLS entries use grubby (it edits
 * every entry); Debian/Ubuntu update-grub; other GRUB 2 systems grub2-mkconfig/grub-mkconfig,
 * whose output path depends on BIOS vs UEFI. On UEFI RHEL 9 the ESP grub.cfg only chains to
 * /boot/grub2/grub.cfg (it contains "configfile"): that stub must not be overwritten.
 */
export function parseBoot(raw: RawFacts, commands: Set<string>, exists: Set<string>): BootFacts {
  const firmware = exists.has('/sys/firmware/efi') ? 'uefi' : 'bios';
  const blsFlag = (raw.files.get('/etc/default/grub') ?? []).some((l) => /^GRUB_ENABLE_BLSCFG=["']?true["']?\s*$/.test(l.trim()));
  const bls = exists.has('/boot/loader/entries') && (blsFlag || commands.has('grubby'));
  const efiConfigs = (sectionLines(raw, 'efi-grub') ?? []).flatMap((l) => {
    const m = /^(\/boot\/efi\/EFI\/[^:]+\/grub\.cfg):(\d+)$/.exec(l.trim());
    return m && m[2] === '0' ? [m[1]] : [];
  });
  if (commands.has('grubby') && bls) return { tool: 'grubby', firmware, grubConfig: null, bls };
  if (commands.has('update-grub')) return { tool: 'update-grub', firmware, grubConfig: '/boot/grub/grub.cfg', bls };
  if (commands.has('grub2-mkconfig')) {
    const grubConfig = firmware === 'uefi' && efiConfigs.length ? efiConfigs[0] : '/boot/grub2/grub.cfg';
    return { tool: 'grub2-mkconfig', firmware, grubConfig, bls };
  }
  if (commands.has('grub-mkconfig')) return { tool: 'grub-mkconfig', firmware, grubConfig: '/boot/grub/grub.cfg', bls };
  return { tool: 'none', firmware, grubConfig: null, bls };
}

export function parseInit(pid1: string | undefined, exists: Set<string>): NonNullable<Facts['init']> {
  const comm = (pid1 ?? '').trim();
  return { system: comm === 'systemd' || exists.has('/run/systemd/system') ? 'systemd' : 'other', pid1: comm };
}

/** Mechanisms that can re-apply ethtool settings at boot, most integrated first. */
export function parseEthtoolPersistence(
  init: NonNullable<Facts['init']>,
  commands: Set<string>,
  exists: Set<string>,
): EthtoolPersistence[] {
  const out: EthtoolPersistence[] = [];
  const linkDirs = exists.has('/lib/systemd/network') || exists.has('/usr/lib/systemd/network');
  // .link files are applied by systemd-udevd (net_setup_link), so they need systemd as init.
  if (init.system === 'systemd' && commands.has('udevadm') && linkDirs) out.push('systemd-link');
  if (exists.has('/etc/NetworkManager') && commands.has('nmcli')) out.push('NetworkManager');
  if (exists.has('/etc/network/interfaces') && commands.has('ifup')) out.push('ifupdown');
  if (commands.has('udevadm')) out.push('udev');
  return out;
}
