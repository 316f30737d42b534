import { describe, expect, it } from 'vitest';
import {
  SELF_REF,
  argKey,
  argValue,
  cmdlineSet,
  editChain,
  effectiveArgs,
  findAssignments,
  renderValue,
  securityWarning,
  splitCmdline,
} from '../../../../modules/lib/cmdline.js';
import { parseBootTool, regenerateArgv } from '../../../../modules/grub_cmdline.js';

describe('kernel command line', () => {
  it('splits on whitespace outside double quotes and drops init arguments after --', () => {
    expect(splitCmdline(' a=1\tdyndbg="file x.c +p"  b -- init --flag\n')).toEqual(['a=1', 'dyndbg="file x.c +p"', 'b']);
  });
  it('compares keys with - and _ alike, values without the kernel quotes', () => {
    expect(argKey('kvm-amd.avic=1')).toBe('kvm_amd.avic');
    expect(argValue('dyndbg="file x.c +p"')).toBe('file x.c +p');
    expect(argValue('quiet')).toBeNull();
    expect(argValue('hugepages=0')).toBe('0');
  });
  it('keeps the last value of a key', () => {
    expect(cmdlineSet(['hugepages=4', 'quiet', 'hugepages=8']).get('hugepages')).toBe('8');
  });
  it('warns for mitigations=off but not for mitigations=auto', () => {
    expect(securityWarning('mitigations=off')).toMatch(/CPU vulnerabilities/);
    expect(securityWarning('mitigations=auto')).toBeNull();
    expect(securityWarning('nopti')).not.toBeNull();
  });
});

describe('GRUB assignments', () => {
  const file = '/etc/default/grub';
  it('reads double, single and unquoted values, escapes and continuation lines', () => {
    const text = 'A="x \\"y\\" \\$z \\\n w"\nA=\'p q\'\nA=r # note\nexport A="s"\n';
    expect(findAssignments(file, text, 'A').map((a) => [a.line, a.quote, a.args])).toEqual([
      [1, '"', ['x', '"y"', '$z', 'w']],
      [3, "'", ['p', 'q']],
      [4, '', ['r']],
      [5, '"', ['s']],
    ]);
  });
  it('does not mistake GRUB_CMDLINE_LINUX_DEFAULT for GRUB_CMDLINE_LINUX, nor a comment for an assignment', () => {
    const text = '#GRUB_CMDLINE_LINUX="old"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n';
    expect(findAssignments(file, text, 'GRUB_CMDLINE_LINUX')).toEqual([]);
  });
  it('treats $VAR and ${VAR} as the previous value, and refuses any other expansion', () => {
    const chain = [
      ...findAssignments(file, 'V="a b=1"\n', 'V'),
      ...findAssignments('/etc/default/grub.d/x.cfg', 'V="${V} c"\nV="$V b=2"\n', 'V'),
    ];
    expect(effectiveArgs(chain)).toEqual(['a', 'b=1', 'c', 'b=2']);
    expect(() => findAssignments(file, 'V="$OTHER a"\n', 'V')).toThrow('/etc/default/grub:1: V uses shell expansion');
    expect(() => findAssignments(file, 'V="`id`"\n', 'V')).toThrow('shell expansion');
  });
  it('edits only the live part of the chain and never leaves two values of a key', () => {
    const chain = [
      ...findAssignments(file, 'V="dead=1"\nV="a b=1"\n', 'V'),
      ...findAssignments('/etc/default/grub.d/x.cfg', 'V="$V b=2"\n', 'V'),
    ];
    expect(editChain(chain, ['b=3', 'c'], ['a'])).toEqual([['dead=1'], ['c'], [SELF_REF, 'b=3']]);
  });
  it('renders values back in their quoting, escaping what double quotes need', () => {
    expect(renderValue(['a', 'b=1'], "'", 'V')).toBe("'a b=1'");
    expect(renderValue(['a'], '', 'V')).toBe('a');
    expect(renderValue(['a', 'b'], '', 'V')).toBe('"a b"');
    expect(renderValue([SELF_REF, 'x="1 2"', 'y$'], '"', 'V')).toBe('"$V x=\\"1 2\\" y\\$"');
  });
});

describe('boot-config tool', () => {
  it('prefers grubby on BLS hosts, then update-grub, then mkconfig to the right output', () => {
    expect(parseBootTool('tool grubby\ntool grub2-mkconfig\nbls\n')).toEqual({ kind: 'grubby' });
    expect(parseBootTool('tool grubby\ntool grub2-mkconfig\ncfg /boot/grub2/grub.cfg\n')).toEqual({
      kind: 'mkconfig',
      command: 'grub2-mkconfig',
      output: '/boot/grub2/grub.cfg',
    });
    // Older Red Hat UEFI hosts: the real config lives on the ESP.
    expect(parseBootTool('tool grub2-mkconfig\nefi\ncfg /boot/efi/EFI/centos/grub.cfg\n')).toMatchObject({
      output: '/boot/efi/EFI/centos/grub.cfg',
    });
    // Newer ones: the ESP file is a stub that chains /boot/grub2/grub.cfg.
    expect(parseBootTool('tool grub2-mkconfig\nefi\nstub /boot/efi/EFI/fedora/grub.cfg\ncfg /boot/grub2/grub.cfg\n')).toMatchObject({
      output: '/boot/grub2/grub.cfg',
    });
    expect(parseBootTool('')).toEqual({ kind: 'none' });
  });
  it('passes the arguments to grubby as single argv words', () => {
    expect(regenerateArgv({ kind: 'grubby' }, ['mitigations=off', 'hugepages=16'], ['rhgb'])).toEqual([
      'grubby',
      '--update-kernel=ALL',
      '--args=mitigations=off hugepages=16',
      '--remove-args=rhgb',
    ]);
    expect(regenerateArgv({ kind: 'none' }, [], [])).toBeNull();
  });
});
