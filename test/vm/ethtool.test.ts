// ethtool on real NICs: virtio-net with 4 queue pairs (ens3) and e1000e (ens4). Settings are
// applied, read back on the VM with ethtool itself, persisted, and still there after a reboot.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { playOn, useVm } from './vm.js';

const MODULE = fileURLToPath(new URL('../../modules/ethtool.ts', import.meta.url));
const haveModule = existsSync(MODULE);

const vm = useVm();
const playbook = (virtio: string, e1000e: string) => `- name: NIC tuning
  hosts: vm
  tasks:
    - name: virtio-net
      ethtool: ${virtio}
    - name: e1000e
      ethtool: ${e1000e}
`;
const TUNED = playbook(
  '{ device: ens3, ring: {rx: 512, tx: max}, channels: {combined: 4}, features: {gro: on}, txqueuelen: 5000, persist: auto }',
  '{ device: ens4, ring: {rx: 1024, tx: 1024}, coalesce: {rx-usecs: 50}, features: {gro: on}, txqueuelen: 5000, persist: auto }',
);

/** The value after `label:` in the "Current hardware settings" part of `ethtool -g/-l`. */
function current(output: string, label: string): string {
  const part = output.split(/Current hardware settings:/)[1] ?? '';
  return part.match(new RegExp(`^${label}:\\s*(\\S+)`, 'm'))?.[1] ?? 'missing';
}

/** What a user would look at on the VM after tuning. */
async function nicState() {
  const x = (argv: string[]) => vm().mustExec(argv);
  const [g3, l3, g4, c4, k3, k4, q3, q4] = await Promise.all([
    x(['ethtool', '-g', 'ens3']), x(['ethtool', '-l', 'ens3']), x(['ethtool', '-g', 'ens4']), x(['ethtool', '-c', 'ens4']),
    x(['ethtool', '-k', 'ens3']), x(['ethtool', '-k', 'ens4']),
    x(['cat', '/sys/class/net/ens3/tx_queue_len']), x(['cat', '/sys/class/net/ens4/tx_queue_len']),
  ]);
  const gro = (k: string) => k.match(/^generic-receive-offload:\s*(\S+)/m)?.[1];
  return {
    ens3: { rx: current(g3, 'RX'), combined: current(l3, 'Combined'), gro: gro(k3), txqueuelen: q3.trim() },
    ens4: {
      rx: current(g4, 'RX'), tx: current(g4, 'TX'), rxUsecs: c4.match(/^rx-usecs:\s*(\S+)/m)?.[1], gro: gro(k4), txqueuelen: q4.trim(),
    },
  };
}

const TUNED_STATE = {
  ens3: { rx: '512', combined: '4', gro: 'on', txqueuelen: '5000' },
  ens4: { rx: '1024', tx: '1024', rxUsecs: '50', gro: 'on', txqueuelen: '5000' },
};

describe.skipIf(!haveModule)('ethtool in the VM: virtio-net multi-queue and e1000e, across a reboot (needs modules/ethtool.ts)', () => {
  test('the NICs start untuned: 2 of 4 virtio queue pairs in use, default rings', async () => {
    const s = await nicState();
    expect(s.ens3.combined).toBe('2');
    expect(s.ens3.rx).toBe('1024');
    expect(s.ens4.rx).toBe('256');
  });

  test('check lists the changes and changes nothing', async () => {
    const before = await nicState();
    const r = await playOn(vm(), TUNED, { check: true });
    expect(r.code).toBe(2);
    expect(r.report.changes.length).toBeGreaterThan(0);
    expect(new Set(r.report.changes.map((c) => c.task))).toEqual(new Set(['virtio-net', 'e1000e']));
    expect(await nicState()).toEqual(before);
  });

  test('apply sets everything and it reads back on the VM', async () => {
    const r = await playOn(vm(), TUNED);
    expect(r.report.failures).toEqual([]);
    expect(r.code).toBe(0);
    expect(await nicState()).toEqual(TUNED_STATE);
  });

  test('a second run reports zero changes', async () => {
    const r = await playOn(vm(), TUNED);
    expect(r.code).toBe(0);
    expect(r.report.changes).toEqual([]);
  });

  test('after a real reboot the persisted settings are back and a run changes nothing', async () => {
    await vm().reboot();
    expect(await nicState()).toEqual(TUNED_STATE);
    const r = await playOn(vm(), TUNED);
    expect(r.code).toBe(0);
    expect(r.report.changes).toEqual([]);
  });

  test('check mode: a ring above the maximum fails early naming device and driver, and changes nothing', async () => {
    const r = await playOn(vm(), playbook('{ device: ens3, txqueuelen: 5000 }', '{ device: ens4, ring: {rx: 8192} }'), { check: true });
    expect(r.code).toBe(1);
    const message = r.report.failures.map((f) => f.message).join('\n');
    expect(message).toContain('ens4');
    expect(message).toContain('e1000e');
    expect(message).toContain('4096');
    expect(await nicState()).toEqual(TUNED_STATE);
  });

  test('check mode: coalescing virtio-net does not support fails early naming device and driver', async () => {
    const r = await playOn(vm(), playbook('{ device: ens3, coalesce: {rx-usecs: 50} }', '{ device: ens4, txqueuelen: 5000 }'), { check: true });
    expect(r.code).toBe(1);
    const message = r.report.failures.map((f) => f.message).join('\n');
    expect(message).toContain('ens3');
    expect(message).toContain('virtio_net');
    expect(await nicState()).toEqual(TUNED_STATE);
  });
});
