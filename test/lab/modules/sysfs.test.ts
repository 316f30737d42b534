// sysfs on a tier-1 lab host. THP and block-queue files are machine-global, so every file a test
// writes is a per-host shadow (LAB.md): a plain file bind-mounted over the sysfs file. A shadow
// keeps what is written ("never"), not the kernel's bracketed form, and the module's read-back
// accepts both. The playbooks that use sysfs run in test/lab/playbooks/.

import { beforeAll, describe, expect, test } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const THP = '/sys/kernel/mm/transparent_hugepage/enabled';
const DEFRAG = '/sys/kernel/mm/transparent_hugepage/defrag';
const TMPFILES = '/etc/tmpfiles.d/hvtune-sysfs.conf';
const THP_KERNEL = 'always [madvise] never\n';
let device = '';
let scheduler = '';

const thpPlaybook = (value: string) => `- name: memory
  hosts: lab
  tasks:
    - name: THP
      sysfs: { path: ${THP}, value: ${value} }
`;
const blockPlaybook = (value: string) => `- name: disks
  hosts: lab
  tasks:
    - name: I/O scheduler
      sysfs: { block: { match: "${device}", attributes: { queue/scheduler: ${value} } } }
`;

beforeAll(async () => {
  await lab().shadow('hv1', THP, THP_KERNEL);
  await lab().shadow('hv1', DEFRAG, 'always defer defer+madvise [madvise] never\n');
  // One real device name of this machine, its scheduler file shadowed: nothing real is written.
  const list = await lab().exec('hv1', ['sh', '-c', 'for d in /sys/block/*/queue/scheduler; do echo "$d"; done | head -n 1']);
  scheduler = list.stdout.trim();
  device = scheduler.split('/')[3];
  await lab().shadow('hv1', scheduler, '[none] mq-deadline kyber bfq\n');
});

describe('sysfs: transparent hugepages', () => {
  test('check shows the live change and the tmpfiles line, and writes nothing', async () => {
    const r = await play(lab(), thpPlaybook('never'), { check: true });
    expect(r.code).toBe(2);
    expect(changesOn(r.report, 'hv1').map((c) => [c.target, c.effect, c.before, c.after])).toEqual([
      [THP, 'live', 'madvise', 'never'],
      [TMPFILES, 'persistent', null, null],
    ]);
    expect(await lab().readFile('hv1', THP)).toBe(THP_KERNEL);
    expect(await lab().readFile('hv1', TMPFILES)).toBeNull();
  });

  test('apply sets it and persists it; a second run changes nothing', async () => {
    expect((await play(lab(), thpPlaybook('never'))).code).toBe(0);
    expect((await lab().readFile('hv1', THP))?.trim()).toBe('never');
    expect(await lab().readFile('hv1', TMPFILES)).toContain(`\nw ${THP} - - - - never\n`);
    const again = await play(lab(), thpPlaybook('never'));
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });

  test('drift by hand is exactly one live change, and apply puts it back', async () => {
    await lab().shadow('hv1', THP, THP_KERNEL);
    const check = await play(lab(), thpPlaybook('never'), { check: true });
    expect(changesOn(check.report, 'hv1').map((c) => [c.target, c.before, c.after])).toEqual([[THP, 'madvise', 'never']]);
    expect((await play(lab(), thpPlaybook('never'))).code).toBe(0);
    expect((await lab().readFile('hv1', THP))?.trim()).toBe('never');
  });

  test('a value the file does not offer fails in check mode, naming the choices', async () => {
    await lab().shadow('hv1', THP, THP_KERNEL);
    const r = await play(lab(), thpPlaybook('sometimes'), { check: true });
    expect(r.code).toBe(1);
    expect(r.report.failures[0].message).toContain('does not offer sometimes (choices: always, madvise, never)');
  });
});

describe('sysfs: block devices', () => {
  test('check, apply (the udev rule and the shadowed scheduler), second run zero', async () => {
    const rule = `/etc/udev/rules.d/60-hvtune-block-${device}.rules`;
    const check = await play(lab(), blockPlaybook('mq-deadline'), { check: true });
    expect(changesOn(check.report, 'hv1').map((c) => [c.target, c.before, c.after])).toEqual([
      [scheduler, 'none', 'mq-deadline'],
      [rule, null, null],
    ]);
    expect((await play(lab(), blockPlaybook('mq-deadline'))).code).toBe(0);
    expect((await lab().readFile('hv1', scheduler))?.trim()).toBe('mq-deadline');
    expect(await lab().readFile('hv1', rule)).toContain(`KERNEL=="${device}", ATTR{queue/scheduler}="mq-deadline"\n`);
    expect(changesOn((await play(lab(), blockPlaybook('mq-deadline'))).report, 'hv1')).toEqual([]);
  });

  test("seed 004's deadline is refused with the modern name", async () => {
    await lab().shadow('hv1', scheduler, '[none] mq-deadline kyber bfq\n');
    const r = await play(lab(), blockPlaybook('deadline'), { check: true });
    expect(r.code).toBe(1);
    expect(r.report.failures[0].message).toContain('its modern counterpart is mq-deadline');
  });
});
