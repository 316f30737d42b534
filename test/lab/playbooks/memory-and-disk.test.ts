// playbooks/memory-and-disk.yml on a lab host with a private libvirtd, through the real CLI. THP
// and block-queue files are machine-global, so each is a per-host shadow (LAB.md); the KSM tasks
// need systemd, which tier-1 hosts lack; the grub task cannot regenerate on tier 1.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineTcgDomain, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';
import { fields, virshOn } from './virsh.js';

const lab = useLab({ hosts: 1 });
const virsh = virshOn(lab, 'hv1');
let libvirt: LabLibvirt | undefined;
const playbook = readFileSync(new URL('../../../playbooks/memory-and-disk.yml', import.meta.url), 'utf8');
const THP = '/sys/kernel/mm/transparent_hugepage/enabled';
const DEFRAG = '/sys/kernel/mm/transparent_hugepage/defrag';
let device = '';
let scheduler = '';
// The seed's opt-ins turned on: a bfq weight and a hard limit relative to the domain's 64 MiB.
const args = () => [
  '-e',
  `disk_match=${device}`,
  '-e',
  'disk_scheduler=bfq',
  '-e',
  'vm_blkio_weight=100',
  '-e',
  'vm_memory_hard_limit=memory+1GiB',
  '--skip-tags',
  'ksm,boot',
];

beforeAll(async () => {
  await lab().shadow('hv1', THP, 'always [madvise] never\n');
  await lab().shadow('hv1', DEFRAG, 'always defer defer+madvise [madvise] never\n');
  // One real device name of this machine, its scheduler file shadowed: nothing real is written.
  const list = await lab().exec('hv1', ['sh', '-c', 'for d in /sys/block/*/queue/scheduler; do echo "$d"; done | head -n 1']);
  scheduler = list.stdout.trim();
  device = scheduler.split('/')[3];
  await lab().shadow('hv1', scheduler, '[none] mq-deadline kyber bfq\n');
  libvirt = await startLibvirt(lab(), 'hv1');
  await defineTcgDomain(lab(), 'hv1', 'vm1');
}, 120_000);
afterAll(async () => {
  await libvirt?.stop();
});

describe('playbooks/memory-and-disk.yml', () => {
  test('without systemd the KSM tasks fail clearly, each on its own, and the rest is planned; nothing changes', async () => {
    const xml = await virsh.inactiveXml('vm1');
    const r = await play(lab(), playbook, { check: true, args: ['-e', `disk_match=${device}`, '--skip-tags', 'boot'] });
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => f.message).join('\n')).toMatch(/cannot manage ksm\.service: PID 1 is "sshd", not systemd/);
    expect(r.report.failures.map((f) => f.task)).toEqual(['KSM off', 'ksmtuned off']);
    expect(changesOn(r.report, 'hv1').map((c) => c.target)).toEqual(expect.arrayContaining([THP, DEFRAG]));
    expect(await lab().readFile('hv1', THP)).toBe('always [madvise] never\n');
    expect(await virsh.inactiveXml('vm1')).toBe(xml);
  });

  test('apply: THP, the scheduler now and in a udev rule, the virtio disk without host cache; then zero changes', async () => {
    const r = await play(lab(), playbook, { args: args() });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await lab().readFile('hv1', THP))?.trim()).toBe('always');
    expect((await lab().readFile('hv1', DEFRAG))?.trim()).toBe('defer+madvise');
    expect((await lab().readFile('hv1', scheduler))?.trim()).toMatch(/^(\[bfq\]|bfq)/);
    const rules = await lab().exec('hv1', ['sh', '-c', 'cat /etc/udev/rules.d/60-hvtune-block-*.rules']);
    expect(rules.stdout).toContain('ATTR{queue/scheduler}="bfq"');
    expect(await virsh.inactiveXml('vm1')).toMatch(/<driver name='qemu' type='qcow2' cache='none' io='native'\/>/);
    expect(fields(await virsh('blkiotune', 'vm1', '--config')).weight).toBe('100');
    // 64 MiB + 1 GiB, in KiB
    expect(fields(await virsh('memtune', 'vm1', '--config')).hard_limit).toBe(String(65536 + 1048576));
    const again = await play(lab(), playbook, { args: args() });
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });
});
