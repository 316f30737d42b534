// modprobe on a tier-1 lab host: a tier-1 host runs the machine's own kernel, so no test loads or
// unloads a module here (that is the full-VM tier's). What is real here is the files (modprobe.d,
// modules-load.d). The modules the kernel has are the machine's, so the host is given its own
// /sys/module: kvm built in with halt_poll_ns=200000, and nothing else, on any machine.

import { beforeAll, describe, expect, test } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';

const lab = useLab({ hosts: 1 });
const playbook = `- name: module options (seeds 002, 003)
  hosts: lab
  tasks:
    - name: SR-IOV VFs, in the file seed 003 uses
      modprobe: { module: igb, options: { max_vfs: 7 }, file: kvm }
    - name: AVIC, same file
      modprobe: { module: kvm-amd, options: { avic: true }, file: kvm }
    - name: vhost-net at boot
      modprobe: { module: vhost_net, options: { experimental_zcopytx: 1 }, load: boot }
    - name: built-in kvm, already as asked
      modprobe: { module: kvm, options: { halt_poll_ns: 200000 } }
`;
const KVM_CONF = '/etc/modprobe.d/kvm.conf';
const VHOST_CONF = '/etc/modprobe.d/hvtune-vhost_net.conf';
const VHOST_LOAD = '/etc/modules-load.d/vhost_net.conf';
const snapshot = async () =>
  Promise.all([KVM_CONF, VHOST_CONF, VHOST_LOAD, '/etc/modprobe.d/hvtune-kvm.conf'].map((p) => lab().readFile('hv1', p)));

beforeAll(async () => {
  await lab().shadowTree('hv1', '/sys/module', { 'kvm/parameters/halt_poll_ns': '200000\n' });
});

describe('modprobe on a tier-1 host', () => {
  test('check lists the file changes and writes nothing', async () => {
    await lab().writeFile('hv1', KVM_CONF, '# nested guests for CI\noptions kvm_intel nested=1\n');
    const before = await snapshot();
    const r = await play(lab(), playbook, { check: true });
    expect(r.code).toBe(2);
    expect(changesOn(r.report, 'hv1').map((c) => [c.task, c.target, c.effect])).toEqual([
      ['SR-IOV VFs, in the file seed 003 uses', KVM_CONF, 'persistent'],
      ['AVIC, same file', KVM_CONF, 'persistent'],
      ['vhost-net at boot', VHOST_CONF, 'persistent'],
      ['vhost-net at boot', VHOST_LOAD, 'persistent'],
      ['built-in kvm, already as asked', '/etc/modprobe.d/hvtune-kvm.conf', 'persistent'],
    ]);
    expect(await snapshot()).toEqual(before);
  });

  test('apply writes exactly that; two tasks sharing kvm.conf both land; other lines stay', async () => {
    const r = await play(lab(), playbook);
    expect(r.code).toBe(0);
    expect(await lab().readFile('hv1', KVM_CONF)).toBe(
      '# nested guests for CI\noptions kvm_intel nested=1\noptions igb max_vfs=7\noptions kvm-amd avic=1\n',
    );
    expect(await lab().readFile('hv1', VHOST_CONF)).toBe(
      '# Managed by hvtune (modprobe): vhost_net\noptions vhost_net experimental_zcopytx=1\n',
    );
    expect(await lab().readFile('hv1', VHOST_LOAD)).toBe('# Managed by hvtune (modprobe): load vhost_net at boot\nvhost_net\n');
    // kvm is built in and already runs halt_poll_ns=200000: its file is written, nothing pending.
    expect(await lab().readFile('hv1', '/etc/modprobe.d/hvtune-kvm.conf')).toContain('options kvm halt_poll_ns=200000\n');
    expect(r.report.recap.hv1.pending).toEqual([]);
  });

  test('a second run reports zero changes', async () => {
    const r = await play(lab(), playbook);
    expect(r.code).toBe(0);
    expect(changesOn(r.report, 'hv1')).toEqual([]);
  });

  test('drift by hand is found exactly and put back', async () => {
    await lab().writeFile('hv1', VHOST_CONF, 'options vhost_net experimental_zcopytx=0\n');
    const check = await play(lab(), playbook, { check: true, diff: true });
    expect(check.code).toBe(2);
    const drift = changesOn(check.report, 'hv1');
    expect(drift.map((c) => c.target)).toEqual([VHOST_CONF]);
    expect(drift[0].diff).toContain('+options vhost_net experimental_zcopytx=1');
    expect((await play(lab(), playbook)).code).toBe(0);
    expect(await lab().readFile('hv1', VHOST_CONF)).toBe('options vhost_net experimental_zcopytx=1\n');
    expect(changesOn((await play(lab(), playbook, { check: true })).report, 'hv1')).toEqual([]);
  });

  test('a built-in module whose live parameter differs: the plan says modprobe.d cannot reach it', async () => {
    const r = await play(lab(), playbook.replace('halt_poll_ns: 200000', 'halt_poll_ns: 100000'), { check: true });
    const warnings = [...r.report.warnings, ...changesOn(r.report, 'hv1').flatMap((c) => c.warnings)].join('\n');
    expect(warnings).toContain('kvm is built into this kernel');
    expect(warnings).toContain('kvm.halt_poll_ns=100000 with grub_cmdline');
  });

  test('load: now plans what the kernel allows: a clear failure without loadable modules, a load with them', async () => {
    // Check mode only: applied, a load would reach the machine's own kernel.
    const r = await play(
      lab(),
      `- name: load
  hosts: lab
  tasks:
    - name: tcp_htcp now
      modprobe: { module: tcp_htcp, load: now }
`,
      { check: true },
    );
    const loadable = (await lab().exec('hv1', ['test', '-e', '/proc/modules'])).code === 0;
    if (loadable) {
      expect(r.code).toBe(2);
      expect(changesOn(r.report, 'hv1').map((c) => [c.target, c.effect])).toContainEqual(['module:tcp_htcp', 'live']);
    } else {
      expect(r.code).toBe(1);
      expect(r.report.failures.map((f) => f.message).join('\n')).toContain('has no loadable module support (no /proc/modules)');
    }
    expect(await lab().readFile('hv1', '/etc/modules-load.d/tcp_htcp.conf')).toBeNull();
  });
});
