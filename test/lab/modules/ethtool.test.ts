// ethtool on a tier-1 lab host. The host gets its own veth pair (tune0/tune0p, 4 tx/rx queues)
// inside its network namespace, so the link its sshd answers on is never touched. On veth,
// offloads, rx/tx channels, txqueuelen and xps are real; rings, coalescing, combined channels and
// rx-flow-hash are not supported, which is what the check-mode errors below are about. Rings,
// combined channels and coalescing on virtio-net and e1000e, and the reboot, are the full-VM tier's.

import { beforeAll, describe, expect, test } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';

const lab = useLab({ hosts: 1, tag: 'ethtool' });
const RULE = '/etc/udev/rules.d/90-hvtune-ethtool-tune0.rules';

const playbook = `- name: NIC tuning (seeds 001, 003)
  hosts: lab
  tasks:
    - name: tune0 queues, offloads, xps
      ethtool:
        device: tune0
        channels: { rx: 2, tx: 2 }
        features: { gro: on, tx-nocache-copy: on }
        txqueuelen: 5000
        xps: { 0: "0", 1: "1" }
        persist: udev
`;

const sh = async (script: string) => {
  const r = await lab().exec('hv1', ['sh', '-c', script]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
};
/** What a user would look at: the feature lines, the channel counts, txqueuelen and the xps masks. */
async function nicState() {
  const k = await sh('ethtool -k tune0');
  const l = await sh('ethtool -l tune0');
  const feature = (name: string) => new RegExp(`^${name}: (on|off)`, 'm').exec(k)?.[1];
  const current = l.split('Current hardware settings:')[1];
  return {
    gro: feature('generic-receive-offload'),
    nocache: feature('tx-nocache-copy'),
    rx: /RX:\s+(\d+)/.exec(current)?.[1],
    tx: /TX:\s+(\d+)/.exec(current)?.[1],
    txqueuelen: (await sh('cat /sys/class/net/tune0/tx_queue_len')).trim(),
    xps: (await sh('cat /sys/class/net/tune0/queues/tx-0/xps_cpus /sys/class/net/tune0/queues/tx-1/xps_cpus')).split('\n').filter(Boolean),
  };
}

beforeAll(async () => {
  await sh('ip link add tune0 numtxqueues 4 numrxqueues 4 type veth peer name tune0p numtxqueues 4 numrxqueues 4');
});

describe('ethtool on a veth in a tier-1 host', () => {
  test('check lists every change and changes nothing', async () => {
    const before = await nicState();
    expect(before).toMatchObject({ gro: 'off', nocache: 'off', rx: '4', tx: '4', txqueuelen: '1000' });
    const r = await play(lab(), playbook, { check: true, diff: true });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(changesOn(r.report, 'hv1').map((c) => [c.target, c.effect, c.before, c.after])).toEqual([
      ['ethtool:tune0/channels/rx', 'live', '4', '2'],
      ['ethtool:tune0/channels/tx', 'live', '4', '2'],
      ['ethtool:tune0/features/generic-receive-offload', 'live', 'off', 'on'],
      ['ethtool:tune0/features/tx-nocache-copy', 'live', 'off', 'on'],
      ['ethtool:tune0/txqueuelen', 'live', '1000', '5000'],
      ['ethtool:tune0/xps/tx-0', 'live', '', '0'],
      ['ethtool:tune0/xps/tx-1', 'live', '', '1'],
      [RULE, 'persistent', null, null],
    ]);
    expect(await nicState()).toEqual(before);
    expect(await lab().readFile('hv1', RULE)).toBeNull();
  });

  test('apply sets everything, the host shows it, the udev rule persists it', async () => {
    const r = await play(lab(), playbook);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await nicState()).toEqual({ gro: 'on', nocache: 'on', rx: '2', tx: '2', txqueuelen: '5000', xps: ['1', '2'] });
    expect(await lab().readFile('hv1', RULE)).toBe(
      '# Managed by hvtune (ethtool): settings of tune0, applied when the device appears. Changes by hand are put back on the next run.\n' +
        'ACTION=="add", SUBSYSTEM=="net", NAME=="tune0", RUN+="/usr/sbin/ethtool -L $name rx 2 tx 2"\n' +
        'ACTION=="add", SUBSYSTEM=="net", NAME=="tune0", RUN+="/usr/sbin/ethtool -K $name gro on tx-nocache-copy on"\n' +
        'ACTION=="add", SUBSYSTEM=="net", NAME=="tune0", RUN+="/usr/sbin/ip link set dev $name txqueuelen 5000"\n' +
        `ACTION=="add", SUBSYSTEM=="net", NAME=="tune0", RUN+="/bin/sh -c 'echo 1 > /sys/class/net/$name/queues/tx-0/xps_cpus'"\n` +
        `ACTION=="add", SUBSYSTEM=="net", NAME=="tune0", RUN+="/bin/sh -c 'echo 2 > /sys/class/net/$name/queues/tx-1/xps_cpus'"\n`,
    );
  });

  test('a second run reports zero changes', async () => {
    const r = await play(lab(), playbook);
    expect(r.code).toBe(0);
    expect(changesOn(r.report, 'hv1')).toEqual([]);
  });

  test('a hand change is found exactly and put back', async () => {
    await sh('ethtool -K tune0 gro off');
    const check = await play(lab(), playbook, { check: true });
    expect(check.code).toBe(2);
    expect(changesOn(check.report, 'hv1').map((c) => [c.target, c.before, c.after])).toEqual([
      ['ethtool:tune0/features/generic-receive-offload', 'off', 'on'],
    ]);
    expect((await play(lab(), playbook)).code).toBe(0);
    expect((await nicState()).gro).toBe('on');
    expect(changesOn((await play(lab(), playbook, { check: true })).report, 'hv1')).toEqual([]);
  });
});

describe('what veth cannot do fails in check mode, naming device and driver, and changes nothing', () => {
  const cases: [string, string, RegExp][] = [
    ['ring', 'ring: { rx: 256, tx: 256 }', /tune0 \(driver veth\) does not support ring \(ethtool -g: Operation not supported\)/],
    [
      'combined channels',
      'channels: { combined: 2 }',
      /tune0 \(driver veth\) does not support channels combined \(pre-set maximum n\/a; it offers rx, tx\)/,
    ],
    ['more queues than the device has', 'channels: { rx: 8 }', /channels rx 8 exceeds the pre-set maximum 4 of tune0 \(driver veth\)/],
    [
      'coalescing',
      'coalesce: { rx-usecs: 50, adaptive-rx: off }',
      /tune0 \(driver veth\) does not support interrupt coalescing \(ethtool -c: Operation not supported\)/,
    ],
    [
      'rx-flow-hash (seed 003 sdnf)',
      'rx_flow_hash: { udp4: sdnf }',
      /tune0 \(driver veth\) does not support rx-flow-hash udp4 \(ethtool -n: Cannot get RX network flow hashing options: Operation not supported\)/,
    ],
    ['a fixed feature', 'features: { lro: on }', /feature large-receive-offload of tune0 \(driver veth\) is fixed off/],
    ['an unknown feature', 'features: { warp-drive: on }', /tune0 \(driver veth\) has no feature warp-drive/],
  ];
  test.each(cases)('%s', async (_name, setting, message) => {
    const before = await nicState();
    const r = await play(
      lab(),
      `- name: unsupported\n  hosts: lab\n  tasks:\n    - name: t\n      ethtool: { device: tune0, ${setting}, txqueuelen: 7000, persist: udev }\n`,
      { check: true },
    );
    expect(r.code).toBe(1);
    expect(r.report.failures.map((f) => f.message).join('\n')).toMatch(message);
    expect(await nicState()).toEqual(before);
  });

  test('persist: auto on a host without udev, systemd, ifupdown or NetworkManager says so', async () => {
    const r = await play(
      lab(),
      `- name: auto\n  hosts: lab\n  tasks:\n    - name: t\n      ethtool: { device: tune0, txqueuelen: 7000 }\n`,
      { check: true },
    );
    expect(r.code).toBe(1);
    expect(r.report.failures[0].message).toMatch(
      /persist: auto found no way to persist ethtool settings here.*choose persist: udev, link-file or ifupdown/,
    );
  });

  test('a device named by MAC, persisted in a systemd .link file with a udev rule for the rest', async () => {
    const mac = (await sh('cat /sys/class/net/tune0p/address')).trim();
    const key = `mac-${mac.replace(/:/g, '')}`;
    const pb = `- name: by mac\n  hosts: lab\n  tasks:\n    - name: t\n      ethtool: { device: { mac: "${mac.toUpperCase()}" }, features: { gso: off, tx-nocache-copy: on }, txqueuelen: 2000, persist: link-file }\n`;
    const r = await play(lab(), pb);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await sh('cat /sys/class/net/tune0p/tx_queue_len')).toBe('2000\n');
    expect(await lab().readFile('hv1', `/etc/systemd/network/10-hvtune-${key}.link`)).toBe(
      '# Managed by hvtune (ethtool): settings of tune0p. Changes by hand are put back on the next run.\n' +
        `[Match]\nMACAddress=${mac}\n\n[Link]\n` +
        'NamePolicy=keep kernel database onboard slot path\nAlternativeNamesPolicy=database onboard slot path\nMACAddressPolicy=persistent\n' +
        'GenericSegmentationOffload=no\nTransmitQueueLength=2000\n',
    );
    expect(await lab().readFile('hv1', `/etc/udev/rules.d/90-hvtune-ethtool-${key}.rules`)).toContain(
      `ACTION=="add", SUBSYSTEM=="net", ATTR{address}=="${mac}", RUN+="/usr/sbin/ethtool -K $name tx-nocache-copy on"\n`,
    );
    expect(changesOn((await play(lab(), pb)).report, 'hv1')).toEqual([]);
  });
});
