// grub_cmdline on a tier-1 lab host: the edit and its check-mode diff are real; regeneration is
// not possible here (no boot-config tool; update-grub's grub-probe rejects overlay roots), so apply
// must fail with that message and leave /etc/default/grub byte for byte as it was.

import { beforeAll, describe, expect, test } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const GRUB = '/etc/default/grub';
// Debian 12's stock file, with a hand-added line of the kind seed 004 appends.
const STOCK = `# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
# For full documentation of the options in this file, see:
#   info -f grub -n 'Simple configuration'

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=\`lsb_release -i -s 2> /dev/null || echo Debian\`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 hugepages=4"

# Uncomment to disable graphical terminal (grub-pc only)
#GRUB_TERMINAL=console
`;
const playbook = (args: string) => `- name: kernel command line
  hosts: lab
  tasks:
    - name: hugepages and mitigations
      grub_cmdline: ${args}
`;
const SEED_ARGS = '{ present: [hugepagesz=1G, hugepages=16, mitigations=off], absent: [rhgb] }';
let hasUpdateGrub = false;

beforeAll(async () => {
  await lab().writeFile('hv1', GRUB, STOCK);
  hasUpdateGrub = (await lab().exec('hv1', ['sh', '-c', 'command -v update-grub'])).code === 0;
});

describe('grub_cmdline on a tier-1 host', () => {
  test('check shows one reboot change with the diff, warns about mitigations=off, and changes nothing', async () => {
    const r = await play(lab(), playbook(SEED_ARGS), { check: true, diff: true });
    expect(r.code).toBe(2);
    const [change, ...more] = changesOn(r.report, 'hv1');
    expect(more).toEqual([]);
    expect(change).toMatchObject({ module: 'grub_cmdline', target: GRUB, effect: 'reboot' });
    expect(change.diff).toContain('-GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 hugepages=4"');
    expect(change.diff).toContain('+GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 hugepagesz=1G hugepages=16 mitigations=off"');
    expect(change.warnings.join('\n')).toContain('mitigations=off turns off protection against CPU vulnerabilities');
    expect(await lab().readFile('hv1', GRUB)).toBe(STOCK);
  });

  test('apply cannot regenerate the boot config here: it fails with the reason and restores the file byte for byte', async () => {
    const r = await play(lab(), playbook(SEED_ARGS));
    expect(r.code).toBe(1);
    const message = r.report.failures.map((f) => f.message).join('\n');
    expect(message).toContain(`${GRUB} restored`);
    if (hasUpdateGrub) expect(message).toContain('update-grub failed');
    else expect(message).toContain('no boot-config tool found');
    expect(await lab().readFile('hv1', GRUB)).toBe(STOCK);
  });

  test('arguments already persisted but not booted: no change, a pending reboot per argument in the recap', async () => {
    const persisted = STOCK.replace('hugepages=4"', 'hugepagesz=1G hugepages=4"');
    await lab().writeFile('hv1', GRUB, persisted);
    const r = await play(lab(), playbook('{ present: [hugepagesz=1G, hugepages=4] }'), { check: true });
    expect(r.code).toBe(0);
    expect(changesOn(r.report, 'hv1')).toEqual([]);
    expect(r.report.recap.hv1.pending).toEqual([
      expect.objectContaining({ effect: 'reboot', target: 'cmdline:hugepagesz=1G' }),
      expect.objectContaining({ effect: 'reboot', target: 'cmdline:hugepages=4' }),
    ]);
    await lab().writeFile('hv1', GRUB, STOCK);
  });

  test('a change undone by a later task of the run is not a pending reboot; one that stays is (issue 15)', async () => {
    const twoTasks = (second: string) => `- name: kernel command line
  hosts: lab
  tasks:
    - name: add
      grub_cmdline: { present: [iommu=pt] }
    - name: second
      grub_cmdline: ${second}
`;
    // The host boots with the file's arguments and not iommu=pt, whatever the machine's own line.
    await lab().shadow('hv1', '/proc/cmdline', 'BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro console=ttyS0,115200n8 hugepages=4 quiet\n');
    const reverted = await play(lab(), twoTasks('{ absent: [iommu] }'), { check: true });
    expect(changesOn(reverted.report, 'hv1').map((c) => c.task)).toEqual(['add', 'second']);
    expect(reverted.report.recap.hv1.pending).toEqual([]);
    expect(reverted.report.pending).toEqual([]);

    const kept = await play(lab(), twoTasks('{ absent: [hugepages] }'), { check: true });
    expect(kept.report.recap.hv1.pending).toEqual([expect.objectContaining({ effect: 'reboot', target: GRUB })]);
    expect(await lab().readFile('hv1', GRUB)).toBe(STOCK);
  });

  test('persisted by an earlier run, never booted, then removed: no pending reboot', async () => {
    const persisted = STOCK.replace('hugepages=4"', 'hugepages=4 iommu=pt"');
    await lab().writeFile('hv1', GRUB, persisted);
    const r = await play(lab(), playbook('{ absent: [iommu] }'), { check: true });
    expect(changesOn(r.report, 'hv1').map((c) => c.effect)).toEqual(['persistent']);
    expect(r.report.recap.hv1.pending).toEqual([]);
    await lab().writeFile('hv1', GRUB, STOCK);
  });

  test('an assignment after ; on a line is edited where the shell reads it: console=ttyS0 kept, nothing appended', async () => {
    const oneLine = STOCK.replace('GRUB_TIMEOUT=5\n', '').replace('GRUB_CMDLINE_LINUX="', 'GRUB_TIMEOUT=5; GRUB_CMDLINE_LINUX="');
    await lab().writeFile('hv1', GRUB, oneLine);
    const r = await play(lab(), playbook('{ present: [iommu=pt] }'), { check: true, diff: true });
    expect(r.code).toBe(2);
    const [change, ...more] = changesOn(r.report, 'hv1');
    expect(more).toEqual([]);
    expect(change.diff).toContain('-GRUB_TIMEOUT=5; GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 hugepages=4"');
    expect(change.diff).toContain('+GRUB_TIMEOUT=5; GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 hugepages=4 iommu=pt"');
    expect(change.diff).not.toMatch(/^\+GRUB_CMDLINE_LINUX=/m);
    // What the host's own shell makes of the file is what the plan edits.
    const sourced = await lab().exec('hv1', ['sh', '-c', `. ${GRUB}; printf %s "$GRUB_CMDLINE_LINUX"`]);
    expect(sourced.stdout).toBe('console=ttyS0,115200n8 hugepages=4');
    expect(await lab().readFile('hv1', GRUB)).toBe(oneLine);
    await lab().writeFile('hv1', GRUB, STOCK);
  });

  test('an assignment inside if … fi is refused with file:line, and the file is left as it was', async () => {
    const conditional = `${STOCK}if [ -e /dev/hvc0 ]; then GRUB_CMDLINE_LINUX="console=hvc0"; fi\n`;
    await lab().writeFile('hv1', GRUB, conditional);
    const r = await play(lab(), playbook('{ present: [iommu=pt] }'));
    expect(r.code).toBe(1);
    const line = conditional.split('\n').length - 1;
    expect(r.report.failures.map((f) => f.message).join('\n')).toContain(`${GRUB}:${line}: GRUB_CMDLINE_LINUX is set inside if … fi`);
    expect(await lab().readFile('hv1', GRUB)).toBe(conditional);
    await lab().writeFile('hv1', GRUB, STOCK);
  });

  test('a grub.d file that sets the variable later is where the change is planned, and the plan says so', async () => {
    const dropIn = '/etc/default/grub.d/50-cloudimg-settings.cfg';
    await lab().writeFile('hv1', dropIn, 'GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0"\n');
    const r = await play(lab(), playbook('{ present: [iommu=pt], variable: GRUB_CMDLINE_LINUX_DEFAULT }'), { check: true, diff: true });
    expect(r.code).toBe(2);
    const changes = changesOn(r.report, 'hv1');
    expect(changes.map((c) => c.target)).toEqual([dropIn]);
    expect(changes[0].diff).toContain('+GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0 iommu=pt"');
    expect(changes[0].warnings.join('\n')).toContain(`is sourced after ${GRUB}`);
    await lab().exec('hv1', ['rm', '-f', dropIn]);
  });
  test('absent: [quiet] on the stock Debian file removes it from GRUB_CMDLINE_LINUX_DEFAULT, says where, and a second run changes nothing', async () => {
    // A stand-in for update-grub (grub-probe cannot run on the lab's overlay root): it writes the
    // kernel line the way grub-mkconfig joins the two variables, so the plan can compare with it.
    const standIn = '/usr/local/sbin/update-grub';
    await lab().writeFile(
      'hv1',
      standIn,
      '#!/bin/sh\nset -e\n. /etc/default/grub\nmkdir -p /boot/grub\n' +
        'printf \'menuentry "Debian" {\\n\\tlinux /boot/vmlinuz-6.1.0 root=/dev/vda1 ro %s %s\\n}\\n\' "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT" > /boot/grub/grub.cfg\n',
      0o755,
    );
    await lab().shadow('hv1', '/proc/cmdline', 'BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro console=ttyS0,115200n8 hugepages=4 quiet\n');
    try {
      const check = await play(lab(), playbook('{ absent: [quiet] }'), { check: true, diff: true });
      expect(check.code).toBe(2);
      const [change, ...more] = changesOn(check.report, 'hv1');
      expect(more).toEqual([]);
      expect(change.summary).toContain('removed quiet from GRUB_CMDLINE_LINUX_DEFAULT (/etc/default/grub:9)');
      expect(change.diff).toContain('-GRUB_CMDLINE_LINUX_DEFAULT="quiet"');
      expect(change.diff).toContain('+GRUB_CMDLINE_LINUX_DEFAULT=""');
      expect(await lab().readFile('hv1', GRUB)).toBe(STOCK);

      const applied = await play(lab(), playbook('{ absent: [quiet] }'));
      expect(applied.code).toBe(0);
      const sourced = await lab().exec('hv1', [
        'sh',
        '-c',
        `. ${GRUB}; printf '%s|%s' "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"`,
      ]);
      expect(sourced.stdout).toBe('console=ttyS0,115200n8 hugepages=4|');
      expect(await lab().readFile('hv1', '/boot/grub/grub.cfg')).not.toContain('quiet');

      const again = await play(lab(), playbook('{ absent: [quiet] }'));
      expect(again.code).toBe(0);
      expect(changesOn(again.report, 'hv1')).toEqual([]);
      expect(again.report.recap.hv1.pending).toEqual([expect.objectContaining({ effect: 'reboot', target: 'cmdline:no quiet' })]);
    } finally {
      await lab().exec('hv1', ['rm', '-rf', standIn, '/boot/grub']);
      await lab().writeFile('hv1', GRUB, STOCK);
    }
  });
});
