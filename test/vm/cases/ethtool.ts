// ethtool on real NICs: virtio-net with 4 queue pairs (ens3) and e1000e (ens4). Settings are
// applied, read back on the VM with ethtool itself, persisted, and still there after a reboot.

import { describe, expect, test } from 'vitest';
import type { VmClient } from '../../harness/vm.js';
import { playOn } from '../vm.js';

const playbook = (virtio: string, e1000e: string) => `- name: NIC tuning
  hosts: vm
  tasks:
    - name: virtio-net
      ethtool: ${virtio}
    - name: e1000e
      ethtool: ${e1000e}
`;
// virtio-net: every queue the host gave (max = 4), xps reversed from what virtio_net sets, rx ring
// below its maximum, GRO off. e1000e: rings (tx at its maximum, 4096) and rx coalescing.
const VIRTIO =
  '{ device: ens3, ring: {rx: 512, tx: max}, channels: {combined: max}, xps: {0: "1", 1: "0", 2: "0-1", 3: "0-1"}, features: {gro: off}, txqueuelen: 5000, persist: auto }';
const E1000E =
  '{ device: ens4, ring: {rx: 1024, tx: max}, coalesce: {rx-usecs: 50}, features: {gro: on}, txqueuelen: 5000, persist: auto }';
const TUNED = playbook(VIRTIO, E1000E);
const LINK_ENS3 = '/etc/systemd/network/10-hvtune-ens3.link';
const LINK_ENS4 = '/etc/systemd/network/10-hvtune-ens4.link';
const UDEV_ENS3 = '/etc/udev/rules.d/90-hvtune-ethtool-ens3.rules';

/** The value after `label:` in the "Current hardware settings" part of `ethtool -g/-l`. */
function current(output: string, label: string): string {
  const part = output.split(/Current hardware settings:/)[1] ?? '';
  return part.match(new RegExp(`^${label}:\\s*(\\S+)`, 'm'))?.[1] ?? 'missing';
}

const TUNED_STATE = {
  names: ['ens3', 'ens4'],
  ens3: {
    rx: '512',
    tx: '256',
    combined: '4',
    gro: 'off',
    txqueuelen: '5000',
    xps: { 'tx-0': 0b10, 'tx-1': 0b01, 'tx-2': 0b11, 'tx-3': 0b11 },
  },
  ens4: { rx: '1024', tx: '4096', rxUsecs: '50', gro: 'on', txqueuelen: '5000' },
};

export function ethtool(vm: () => VmClient) {
  /** What a user would look at on the VM after tuning. */
  async function nicState() {
    const x = (argv: string[]) => vm().mustExec(argv);
    const [g3, l3, g4, c4, k3, k4, q3, q4, xps, names] = await Promise.all([
      x(['ethtool', '-g', 'ens3']),
      x(['ethtool', '-l', 'ens3']),
      x(['ethtool', '-g', 'ens4']),
      x(['ethtool', '-c', 'ens4']),
      x(['ethtool', '-k', 'ens3']),
      x(['ethtool', '-k', 'ens4']),
      x(['cat', '/sys/class/net/ens3/tx_queue_len']),
      x(['cat', '/sys/class/net/ens4/tx_queue_len']),
      x(['sh', '-c', 'for q in /sys/class/net/ens3/queues/tx-*; do echo "${q##*/} $(cat $q/xps_cpus)"; done']),
      x(['sh', '-c', 'for m in 52:54:00:00:03:01 52:54:00:00:04:01; do grep -l "^$m$" /sys/class/net/*/address | cut -d/ -f5; done']),
    ]);
    const gro = (k: string) => k.match(/^generic-receive-offload:\s*(\S+)/m)?.[1];
    // tx queue → its xps CPU mask as a number (the kernel pads the hex to the CPU count)
    const xpsMasks = Object.fromEntries(
      xps
        .trim()
        .split('\n')
        .map((l) => [l.split(' ')[0], parseInt(l.split(' ')[1], 16)]),
    );
    return {
      names: names.trim().split('\n'),
      ens3: {
        rx: current(g3, 'RX'),
        tx: current(g3, 'TX'),
        combined: current(l3, 'Combined'),
        gro: gro(k3),
        txqueuelen: q3.trim(),
        xps: xpsMasks,
      },
      ens4: {
        rx: current(g4, 'RX'),
        tx: current(g4, 'TX'),
        rxUsecs: c4.match(/^rx-usecs:\s*(\S+)/m)?.[1],
        gro: gro(k4),
        txqueuelen: q4.trim(),
      },
    };
  }

  /** Check mode fails with a message holding every one of `words`, and the NICs stay as they were. */
  async function expectCheckFailure(playbookYaml: string, words: (string | RegExp)[]) {
    const r = await playOn(vm(), playbookYaml, { check: true });
    expect(r.code).toBe(1);
    const message = r.report.failures.map((f) => f.message).join('\n');
    for (const w of words) expect(message).toMatch(w);
    expect(await nicState()).toEqual(TUNED_STATE);
  }

  return {
    beforeReboot: () =>
      describe('ethtool: virtio-net multi-queue and e1000e, applied and persisted', () => {
        test('the NICs start untuned: 2 of 4 virtio queue pairs in use, default rings, nothing persisted', async () => {
          const s = await nicState();
          expect(s.names).toEqual(['ens3', 'ens4']);
          expect(s.ens3.combined).toBe('2');
          expect(current(await vm().mustExec(['ethtool', '-l', 'ens3']), 'Combined')).toBe('2');
          expect((await vm().mustExec(['ethtool', '-l', 'ens3'])).split(/Current hardware settings:/)[0]).toMatch(/^Combined:\s*4$/m);
          expect(s.ens3.rx).toBe('1024');
          expect(s.ens4.rx).toBe('256');
          expect(s.ens4.tx).toBe('256');
          expect((await vm().exec(['test', '-e', LINK_ENS3])).code).toBe(1);
        });

        test('check lists the changes and changes nothing', async () => {
          const before = await nicState();
          const r = await playOn(vm(), TUNED, { check: true });
          expect(r.code).toBe(2);
          expect(r.report.changes.length).toBeGreaterThan(0);
          expect(new Set(r.report.changes.map((c) => c.task))).toEqual(new Set(['virtio-net', 'e1000e']));
          const targets = r.report.changes.map((c) => c.target);
          // auto picks a systemd .link file; xps needs a udev rule besides (a .link file cannot hold it)
          expect(targets).toEqual(
            expect.arrayContaining([
              'ethtool:ens3/channels/combined',
              'ethtool:ens3/xps/tx-0',
              'ethtool:ens4/ring/tx',
              'ethtool:ens4/coalesce/rx-usecs',
              LINK_ENS3,
              UDEV_ENS3,
              LINK_ENS4,
            ]),
          );
          expect(r.report.changes.find((c) => c.target === 'ethtool:ens4/ring/tx')?.after).toBe('4096');
          expect(await nicState()).toEqual(before);
          expect((await vm().exec(['test', '-e', LINK_ENS3])).code).toBe(1);
        });

        test('apply sets everything and it reads back on the VM', async () => {
          const r = await playOn(vm(), TUNED);
          expect(r.report.failures).toEqual([]);
          expect(r.code).toBe(0);
          expect(await nicState()).toEqual(TUNED_STATE);
          const link3 = await vm().mustExec(['cat', LINK_ENS3]);
          expect(link3).toContain('MACAddress=52:54:00:00:03:01');
          expect(link3).toContain('CombinedChannels=4');
          expect(await vm().mustExec(['cat', UDEV_ENS3])).toContain('xps_cpus');
          expect(await vm().mustExec(['cat', LINK_ENS4])).toContain('RxCoalesceSec=50us');
        });

        test('a second run reports zero changes', async () => {
          const r = await playOn(vm(), TUNED);
          expect(r.code).toBe(0);
          expect(r.report.changes).toEqual([]);
        });
      }),

    afterReboot: () =>
      describe('ethtool after the reboot', () => {
        test('the persisted settings are back and a run changes nothing', async () => {
          expect(await nicState()).toEqual(TUNED_STATE);
          const r = await playOn(vm(), TUNED);
          expect(r.code).toBe(0);
          expect(r.report.changes).toEqual([]);
        });

        test('check mode: more channels than the host gave fails early naming device and driver, and changes nothing', async () => {
          await expectCheckFailure(playbook('{ device: ens3, channels: {combined: 8} }', '{ device: ens4, txqueuelen: 5000 }'), [
            'ens3',
            'virtio_net',
            /\b8\b/,
            /\b4\b/,
          ]);
        });

        test('check mode: a ring above the maximum fails early naming device and driver, and changes nothing', async () => {
          await expectCheckFailure(playbook('{ device: ens3, txqueuelen: 5000 }', '{ device: ens4, ring: {rx: 8192} }'), [
            'ens4',
            'e1000e',
            '4096',
          ]);
        });

        test('check mode: coalescing virtio-net does not support fails early naming device and driver', async () => {
          await expectCheckFailure(playbook('{ device: ens3, coalesce: {rx-usecs: 50} }', '{ device: ens4, txqueuelen: 5000 }'), [
            'ens3',
            'virtio_net',
          ]);
        });
      }),
  };
}
