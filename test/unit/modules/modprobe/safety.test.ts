// modprobe safety (issue 15, finding 12): a bound driver is in use whatever its use count, a
// module the initramfs holds gets the initramfs regenerated, and the driver of the SSH session's
// NIC is not blacklisted without saying so. Plans use recorded facts (test/fixtures/facts).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import modprobe, { type ModprobeArgs, type ModprobeObserved } from '../../../../modules/modprobe.js';
import type { Facts } from '../../../../src/facts.js';
import type { PlanContext } from '../../../../src/module.js';
import { restoreSteps } from '../../../../src/engine/rollback.js';
import { recordingHost } from '../recording-host.js';

const recorded = (file: string): Facts => {
  const saved = JSON.parse(readFileSync(new URL(`../../../fixtures/facts/${file}`, import.meta.url), 'utf8')) as {
    hosts: Record<string, Facts>;
  };
  return Object.values(saved.hosts)[0];
};
const context = (facts: Facts): PlanContext => ({ host: facts.hostname, facts });
// edge1: one socket, eno1 driven by igb.
const edge1 = recorded('one-socket-ht.json');
// zs-compute1: ens1f0 and ens1f1, both i40e.
const seed003 = recorded('seed003-2s10c-ht.json');

const observed = (more: Partial<ModprobeObserved> = {}): ModprobeObserved => ({
  modprobeFiles: {},
  loadFiles: {},
  loadable: true,
  live: { state: 'loaded', refcnt: 0, params: {}, bound: [], holders: [] },
  ...more,
});
const plan = (args: ModprobeArgs, o: ModprobeObserved, facts = edge1) => modprobe.plan(args, o, context(facts));
const warningsOf = (r: ReturnType<typeof plan>) => [...(r.warnings ?? []), ...r.changes.flatMap((c) => c.warnings ?? [])].join('\n');

describe('reload: if-unused knows a bound driver is in use', () => {
  const igb = (bound: string[], holders: string[] = []) =>
    observed({ live: { state: 'loaded', refcnt: 0, params: { InterruptThrottleRate: '3' }, bound, holders } });
  const args: ModprobeArgs = { module: 'igb', options: { InterruptThrottleRate: 1 }, reload: 'if-unused' };

  it('a use count of 0 with a device bound: no reload, a pending reload that says why', () => {
    const r = plan(args, igb(['pci:igb/0000:3b:00.0']));
    expect(r.changes.map((c) => c.target)).toEqual(['/etc/modprobe.d/hvtune-igb.conf']);
    expect(r.pending).toEqual([expect.objectContaining({ effect: 'module-reload', target: 'module:igb' })]);
    expect(r.pending?.[0].summary).toContain('in use (bound to pci:igb/0000:3b:00.0)');
  });

  it('a module held by another is in use too', () => {
    const r = plan(args, igb([], ['macvtap']));
    expect(r.changes.map((c) => c.effect)).toEqual(['persistent']);
    expect(r.pending?.[0].summary).toContain('held by macvtap');
  });

  it('nothing bound and nothing holding it: reloaded now', () => {
    const r = plan(args, igb([]));
    expect(r.changes.map((c) => [c.target, c.effect])).toContainEqual(['module:igb', 'module-reload']);
  });

  it('state: absent with if-unused does not unload a driver with a bound device', () => {
    const r = plan({ module: 'igb', state: 'absent', reload: 'if-unused' }, igb(['pci:igb/0000:3b:00.0']));
    expect(r.changes.map((c) => c.target)).not.toContain('module:igb');
  });
});

describe('blacklisting the driver of the NIC of the SSH session', () => {
  it('refused with the NIC named and the override, from the recorded facts (eno1 is igb)', () => {
    const o = observed({ sessionNic: { name: 'eno1', driver: null }, drivenNics: [] });
    expect(() => plan({ module: 'igb', state: 'blacklisted' }, o)).toThrow(
      'edge1: igb drives eno1, the NIC that carries this SSH session: blacklisted, the next boot leaves the host unreachable over it; set allow_session_nic: true',
    );
  });

  it('the host sysfs names the driver when the facts do not have the NIC', () => {
    const o = observed({ sessionNic: { name: 'enp1s0', driver: 'e1000e' }, drivenNics: ['enp1s0'] });
    expect(() => plan({ module: 'e1000e', state: 'blacklisted' }, o)).toThrow(
      'e1000e drives enp1s0, the NIC that carries this SSH session',
    );
  });

  it('allow_session_nic: the blacklist is planned with a warning, and the driver is not unloaded now', () => {
    const o = observed({ sessionNic: { name: 'ens1f0', driver: null }, drivenNics: [] });
    const r = plan({ module: 'i40e', state: 'blacklisted', reload: 'if-unused', allow_session_nic: true }, o, seed003);
    expect(r.changes.map((c) => c.target)).toEqual(['/etc/modprobe.d/hvtune-i40e.conf']);
    expect(warningsOf(r)).toContain('i40e drives ens1f0, the NIC of this SSH session');
    expect(warningsOf(r)).toContain('i40e drives ens1f1: blacklisted, they have no driver after the next boot');
    expect(r.pending).toEqual([expect.objectContaining({ effect: 'reboot', target: 'module:i40e' })]);
  });

  it('the session on another NIC: a warning for the NICs the driver does drive', () => {
    const o = observed({ sessionNic: { name: 'eno1', driver: null }, drivenNics: [] });
    const r = plan({ module: 'i40e', state: 'blacklisted' }, o, { ...seed003, nics: [...(seed003.nics ?? []), ...(edge1.nics ?? [])] });
    expect(warningsOf(r)).toContain('i40e drives ens1f0, ens1f1: blacklisted');
  });

  it('no SSH_CONNECTION on the host (sudo) and the driver drives a NIC that is up: refused', () => {
    const o = observed({ sessionNic: null, drivenNics: ['eno1'] });
    expect(() => plan({ module: 'igb', state: 'blacklisted' }, o)).toThrow('hvtune cannot tell which NIC carries this SSH session');
  });

  it('a module that drives no NIC is blacklisted without a word', () => {
    const o = observed({ sessionNic: { name: 'eno1', driver: null }, drivenNics: [] });
    const r = plan({ module: 'pcspkr', state: 'blacklisted' }, o);
    expect(r.changes.map((c) => c.target)).toEqual(['/etc/modprobe.d/hvtune-pcspkr.conf']);
    expect(warningsOf(r)).toBe('');
  });
});

describe('modules in the initramfs', () => {
  const image = '/boot/initrd.img-6.1.0-18-amd64';
  const debian = { image, tools: ['update-initramfs', 'lsinitramfs'], olderThan: [], holds: null };
  const args: ModprobeArgs = { module: 'ixgbe', options: { max_vfs: 8 } };
  const ixgbe = (initramfs: ModprobeObserved['initramfs']) =>
    observed({ live: { state: 'loaded', refcnt: 0, params: { max_vfs: '8' } }, initramfs });

  it('an options change asks for a regeneration once per host, and the plan says so', () => {
    const [change] = plan(args, ixgbe(debian)).changes;
    expect(change.summary).toContain(`then regenerate ${image} (update-initramfs -u) if it holds ixgbe`);
    expect(change.finalize).toEqual({ id: 'initramfs', data: { image, tools: debian.tools, module: 'ixgbe', known: false } });
  });

  it('no listing tool: the image is taken to hold the module', () => {
    const [change] = plan(args, ixgbe({ ...debian, tools: ['dracut'] })).changes;
    expect(change.summary).toContain('(dracut -f), which holds ixgbe');
    expect(change.finalize?.data).toMatchObject({ known: true });
  });

  it('files already right but the image older than them and holding the module: regenerate (an interrupted regeneration)', () => {
    const file = '/etc/modprobe.d/hvtune-ixgbe.conf';
    const o = ixgbe({ ...debian, olderThan: [file], holds: true });
    o.modprobeFiles[file] = '# Managed by hvtune (modprobe): ixgbe\noptions ixgbe max_vfs=8\n';
    const r = plan(args, o);
    expect(r.changes.map((c) => [c.target, c.effect])).toEqual([[image, 'persistent']]);
    expect(r.changes[0].summary).toContain(`is older than ${file}`);
    expect(r.changes[0].finalize?.id).toBe('initramfs');
    // Once regenerated the image is newer: nothing left.
    expect(plan(args, { ...o, initramfs: debian }).changes).toEqual([]);
    // An image older than the file but without the module: nothing to regenerate.
    expect(plan(args, { ...o, initramfs: { ...debian, olderThan: [file], holds: false } }).changes).toEqual([]);
  });

  it('a host with an image but no tool to regenerate it: a warning, never a silent "persisted"', () => {
    const r = plan(args, ixgbe({ ...debian, tools: [] }));
    expect(r.changes[0].finalize).toBeUndefined();
    expect(warningsOf(r)).toContain('neither update-initramfs nor dracut');
  });

  it('the finalizer lists the image and regenerates only when it holds a module of the run', async () => {
    const listing = 'usr/lib/modules/6.1.0/kernel/drivers/net/ethernet/intel/ixgbe/ixgbe.ko.xz\n';
    const items = (module: string) => [
      {
        change: plan({ module, options: { max_vfs: 8 } }, ixgbe(debian)).changes[0],
        data: { image, tools: debian.tools, module, known: false },
      },
    ];
    const host = recordingHost();
    host.exec = async (argv) => {
      host.calls.push(argv.join(' '));
      return { stdout: argv[0] === 'lsinitramfs' ? listing : '', stderr: '', code: 0 };
    };
    await modprobe.finalize!('initramfs', items('ixgbe'), host);
    expect(host.calls).toEqual([`lsinitramfs ${image}`, 'update-initramfs -u -k 6.1.0']);
    host.calls.length = 0;
    await modprobe.finalize!('initramfs', items('igb'), host);
    expect(host.calls).toEqual([`lsinitramfs ${image}`]);
  });

  it('a failed regeneration fails the host, saying the next run retries', async () => {
    const host = recordingHost();
    host.exec = async () => ({ stdout: '', stderr: 'E: /usr/share/initramfs-tools/hooks/x failed', code: 1 });
    const items = [
      { change: plan(args, ixgbe(debian)).changes[0], data: { image, tools: ['update-initramfs'], module: 'ixgbe', known: true } },
    ];
    await expect(modprobe.finalize!('initramfs', items, host)).rejects.toThrow(/the next run regenerates again/);
  });

  it('rollback restores the file and regenerates the initramfs again (the engine alone would leave the image as the run made it)', async () => {
    const [change] = plan(args, ixgbe(debian)).changes;
    const task = {
      play: 0,
      task: 'vfs',
      module: 'modprobe',
      handler: false,
      args,
      changes: [change],
      pending: [],
      result: 'applied' as const,
    };
    const { steps, refusals } = restoreSteps({ result: 'ok', tasks: [task] }, new Map([['modprobe', modprobe]]));
    expect(refusals).toEqual([]);
    expect(steps.map((s) => [s.module.name, s.task.changes.map((c) => [c.diff?.after, c.finalize?.id])])).toEqual([
      ['modprobe', [[null, 'initramfs']]],
    ]);
    const host = recordingHost({ files: { '/etc/modprobe.d/hvtune-ixgbe.conf': change.diff!.after! } });
    await modprobe.apply(steps[0].task.changes, host, args);
    expect(host.files.has('/etc/modprobe.d/hvtune-ixgbe.conf')).toBe(false);
  });
});
