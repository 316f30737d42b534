// sriov: parse, plan and apply without a host. recorded/ holds the read script's output for the
// sysfs and `ip -d link show` layouts of an Intel X710 (i40e), 82599 (ixgbe, the iproute2 before
// 4.11 spelling "vf 0 MAC …") and a ConnectX-5 (mlx5_core), and of a NIC without SR-IOV (virtio).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { vfAddress } from '../../../../modules/lib/sriov.js';
import { parseSriovOutput, sriov, type SriovArgs, type SriovObserved } from '../../../../modules/sriov.js';
import type { Facts } from '../../../../src/facts.js';
import type { ReadResult } from '../../../../src/module.js';
import { checkSchema } from '../../../../src/schema.js';
import { recordingHost } from '../recording-host.js';

const here = new URL('.', import.meta.url).pathname;
const recorded = (file: string) => readFileSync(join(here, 'recorded', file), 'utf8');
const ctx = { host: 'hv1', facts: { hostname: 'hv1', kernel: { release: '6.1.0', version: [6, 1, 0] } } as Facts };
const RULE = '/etc/udev/rules.d/90-hvtune-sriov-ens1f0.rules';

const observed = (file: string, rule: string | null = null): SriovObserved => ({ ...parseSriovOutput(recorded(file)), rule });
const plan = (args: SriovArgs, o: SriovObserved) => sriov.plan(args, o, ctx);

describe('reading what a PF shows', () => {
  test('X710: VF count, capability, the virtfn links, VF settings and which running domain holds which address', () => {
    const o = observed('x710-i40e-4vfs.txt');
    expect(o).toMatchObject({ exists: true, pci: '0000:3b:00.0', driver: 'i40e', totalvfs: 64, numvfs: 4, offset: 16, stride: 1 });
    expect(o.virtfn).toEqual({ 0: '0000:3b:02.0', 1: '0000:3b:02.1', 2: '0000:3b:02.2', 3: '0000:3b:02.3' });
    expect(o.vfs[2]).toEqual({ mac: '52:54:00:3b:02:02', vlan: 100, qos: 0, spoofchk: true, trust: false, state: 'auto' });
    expect(o.vfs[0].mac).toBe('00:00:00:00:00:00');
    expect(o.domains).toEqual({ web1: ['0000:3b:02.2'], db1: [] });
  });

  test('82599 with the old iproute2 spelling (vf 0 MAC …, qos)', () => {
    const o = observed('82599-ixgbe-old-iproute.txt');
    expect(o.vfs).toEqual({
      0: { mac: '52:54:00:04:10:00', vlan: 200, qos: 3, spoofchk: true, trust: false, state: 'auto' },
      1: { mac: '00:00:00:00:00:00', vlan: 0, qos: 0, spoofchk: false, trust: true, state: 'enable' },
    });
  });

  test.each([
    ['x710-i40e-4vfs.txt', '0000:3b:00.0', 16, 1],
    ['82599-ixgbe-old-iproute.txt', '0000:04:00.0', 128, 2],
    ['connectx5-mlx5-2vfs.txt', '0000:5e:00.0', 2, 1],
  ])('%s: the address computed from offset and stride is the one the kernel linked', (file, pf, offset, stride) => {
    const o = observed(file);
    for (const [vf, pci] of Object.entries(o.virtfn)) expect(vfAddress(pf, offset, stride, Number(vf))).toBe(pci);
  });

  test('a VF past a bus boundary carries into the bus number', () => {
    expect(vfAddress('0000:04:00.0', 128, 2, 63)).toBe('0000:04:1f.6');
    expect(vfAddress('0000:04:00.0', 128, 2, 64)).toBe('0000:05:00.0');
  });
});

describe('plan', () => {
  test('0 → 4 VFs on an X710: one write, the udev rule; VF settings planned for the new VFs', () => {
    const r = plan({ device: 'ens1f0', numvfs: 4, vfs: { 2: { mac: '52:54:00:3B:02:02', vlan: 100 } } }, observed('x710-i40e-0vfs.txt'));
    expect(r.changes.map((c) => [c.target, c.effect, c.before ?? null, c.after ?? null])).toEqual([
      ['sriov:ens1f0/numvfs', 'live', '0', '4'],
      ['sriov:ens1f0/vf/2', 'live', null, 'mac 52:54:00:3b:02:02, vlan 100'],
      [RULE, 'persistent', null, null],
    ]);
    expect(r.changes[2].diff?.after).toBe(
      '# Managed by hvtune (sriov): the VFs of ens1f0. Changes by hand are put back on the next run.\n' +
        'ACTION=="add", SUBSYSTEM=="net", NAME=="ens1f0", ATTR{device/sriov_numvfs}="4"\n' +
        'ACTION=="add", SUBSYSTEM=="net", NAME=="ens1f0", RUN+="/usr/sbin/ip link set dev ens1f0 vf 2 mac 52:54:00:3b:02:02 vlan 100"\n',
    );
  });

  test('what the host has already: nothing to do', () => {
    const args: SriovArgs = { device: 'ens1f0', numvfs: 4, vfs: { 2: { mac: '52:54:00:3b:02:02', vlan: 100, spoofchk: true } } };
    const first = plan(args, observed('x710-i40e-4vfs.txt'));
    const rule = first.changes.find((c) => c.target === RULE)!.diff!.after;
    expect(first.changes.map((c) => c.target)).toEqual([RULE]);
    expect(plan(args, observed('x710-i40e-4vfs.txt', rule)).changes).toEqual([]);
  });

  test('4 → 8 while a running domain holds VF 2: refused, naming the domain and the VF', () => {
    expect(() => plan({ device: 'ens1f0', numvfs: 8 }, observed('x710-i40e-4vfs.txt'))).toThrow(
      'hv1: numvfs of ens1f0 is 4; the kernel changes it only through 0, which removes every VF, and running domains hold some (web1: VF 2 (0000:3b:02.2)): shut them down or move them first',
    );
    expect(() => plan({ device: 'ens1f0', numvfs: 0 }, observed('x710-i40e-4vfs.txt'))).toThrow('web1: VF 2');
  });

  test('2 → 4 with no VF in use: two steps, through 0', () => {
    const o = { ...observed('connectx5-mlx5-2vfs.txt'), exists: true };
    const r = plan({ device: 'ens2f0np0', numvfs: 4, persist: 'no' }, o);
    expect(r.changes.map((c) => [c.summary, c.before, c.after])).toEqual([
      ['remove the 2 VFs of ens2f0np0 (the kernel changes the count only from 0)', '2', '0'],
      ['set 4 VFs on ens2f0np0', '0', '4'],
    ]);
  });

  test('a VF count change when virsh cannot say which domains run: refused', () => {
    const o = { ...observed('connectx5-mlx5-2vfs.txt'), domains: null, domainsError: 'error: failed to connect to the hypervisor' };
    expect(() => plan({ device: 'ens2f0np0', numvfs: 4 }, o)).toThrow(
      'cannot tell whether a running domain holds a VF of ens2f0np0 (virsh: error: failed to connect to the hypervisor)',
    );
  });

  test('a VF setting that differs: one `ip link set … vf N` with every declared field', () => {
    const r = plan(
      { device: 'enp4s0f0', numvfs: 2, persist: 'no', vfs: { 1: { trust: false, spoofchk: true, state: 'auto' } } },
      observed('82599-ixgbe-old-iproute.txt'),
    );
    expect(r.changes).toHaveLength(1);
    expect(r.changes[0]).toMatchObject({
      before: 'spoofchk off, trust on, state enable',
      after: 'spoofchk on, trust off, state auto',
      data: { args: ['spoofchk', 'on', 'trust', 'off', 'state', 'auto'] },
    });
  });

  test.each([
    [
      { device: 'ens3', numvfs: 2 },
      'virtio-no-sriov.txt',
      'hv1: ens3 (driver virtio-pci) does not offer SR-IOV: no /sys/class/net/ens3/device/sriov_totalvfs',
    ],
    [{ device: 'ens2f0np0', numvfs: 16 }, 'connectx5-mlx5-2vfs.txt', 'hv1: ens2f0np0 offers at most 8 VFs (sriov_totalvfs), not 16'],
  ])('%j on %s: %s', (args, file, message) => {
    expect(() => plan(args as SriovArgs, observed(file))).toThrow(message);
  });

  test('a missing interface is named', () => {
    expect(() => plan({ device: 'ens9', numvfs: 1 }, { ...observed('x710-i40e-0vfs.txt'), exists: false })).toThrow(
      'hv1: no network interface ens9',
    );
  });

  test('0 VFs: the rule goes, nothing to recreate at boot', () => {
    const o = observed('x710-i40e-0vfs.txt', 'ACTION=="add", SUBSYSTEM=="net", NAME=="ens1f0", ATTR{device/sriov_numvfs}="4"\n');
    const r = plan({ device: 'ens1f0', numvfs: 0 }, o);
    expect(r.changes.map((c) => [c.summary, c.diff?.after])).toEqual([[`remove ${RULE} (no VFs to recreate at boot)`, null]]);
  });
});

describe('arguments', () => {
  test('a VF at or past numvfs is an input error', () => {
    expect(sriov.validate!({ device: 'ens1f0', numvfs: 4, vfs: { 4: { trust: true } } })).toEqual([
      { path: '/vfs/4', message: 'VF 4 does not exist with numvfs 4 (VFs 0-3)' },
    ]);
  });
  test.each([
    { device: 'ens1f0; reboot', numvfs: 1 },
    { device: 'ens1f0', numvfs: -1 },
    { device: 'ens1f0', numvfs: 2, vfs: { 0: { mac: '52:54:00:00:00:0g' } } },
    { device: 'ens1f0', numvfs: 2, vfs: { 0: { vlan: 4096 } } },
    { device: 'ens1f0', numvfs: 2, vfs: { x: { trust: true } } },
  ])('%j is refused by the schema', (args) => {
    expect(checkSchema(sriov.schema, args).length).toBeGreaterThan(0);
  });
});

describe('apply', () => {
  const scriptAnswer = (o: string) => (s: string) => (s.includes('sriov_totalvfs') ? o : '');
  test('writes numvfs, sets the VF, writes the rule, each read back', async () => {
    const after = recorded('x710-i40e-4vfs.txt').replace(/\n::hvtune:: domain\nweb1[\s\S]*$/, '\n');
    const host = recordingHost({ script: scriptAnswer(after) });
    const args: SriovArgs = { device: 'ens1f0', numvfs: 4, vfs: { 2: { mac: '52:54:00:3b:02:02', vlan: 100 } } };
    const r = plan(args, observed('x710-i40e-0vfs.txt'));
    await sriov.apply(r.changes, host, args);
    expect(host.calls.filter((c) => !c.startsWith('sh LC_ALL'))).toEqual([
      "sh printf '%s\\n' 4 > /sys/class/net/ens1f0/device/sriov_numvfs",
      'exec ip link set dev ens1f0 vf 2 mac 52:54:00:3b:02:02 vlan 100',
      `write ${RULE}`,
    ]);
  });

  test('a driver that ignores the VF setting fails the task', async () => {
    const host = recordingHost({ script: scriptAnswer(recorded('x710-i40e-4vfs.txt')) });
    const args: SriovArgs = { device: 'ens1f0', numvfs: 4, persist: 'no', vfs: { 1: { trust: true } } };
    const r = plan(args, observed('x710-i40e-4vfs.txt'));
    await expect(sriov.apply(r.changes, host, args)).rejects.toThrow(
      'hv1: sriov:ens1f0/vf/1 is "trust off" after apply, expected "trust on"',
    );
  });
});

test('parse takes the script and the rule file', () => {
  const results: ReadResult[] = [
    { kind: 'script', stdout: recorded('x710-i40e-0vfs.txt'), stderr: '', code: 0 },
    { kind: 'file', path: RULE, content: 'x\n' },
  ];
  expect(sriov.parse({ device: 'ens1f0', numvfs: 0 }, results, ctx).rule).toBe('x\n');
});
