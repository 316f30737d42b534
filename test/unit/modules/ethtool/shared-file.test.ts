// Several ethtool tasks on one NIC share its persisted file: each keeps what the others persisted.
import { describe, expect, test } from 'vitest';
import { cpuListToMask } from '../../../../modules/lib/ethtool-parse.js';
import {
  type DeviceMatch,
  type EthtoolSettings,
  emptySettings,
  ifupdownLines,
  mergeSettings,
  renderLinkFile,
  renderUdevRule,
  settingsFromCommands,
  settingsFromLinkFile,
  splitForLinkFile,
} from '../../../../modules/lib/ethtool-persist.js';

const match: DeviceMatch = { by: 'name', name: 'ens1f0', mac: null, pci: null };
const rings: EthtoolSettings = { ...emptySettings(), ring: { rx: 4096, tx: 4096 }, rxFlowHash: { udp4: 'sdfn' } };
const offloads: EthtoolSettings = {
  ...emptySettings(),
  features: { 'generic-receive-offload': 'on', 'tcp-segmentation-offload': 'off' },
  coalesce: { 'adaptive-rx': 'off', 'rx-usecs': 50 },
  txqueuelen: 5000,
  xps: { '0': '0-1' },
};

describe('ethtool settings read back from the files hvtune writes', () => {
  test('a udev rule and ifupdown post-up lines give back every setting', () => {
    const all = mergeSettings(rings, offloads);
    expect(settingsFromCommands(renderUdevRule(match, all, cpuListToMask))).toEqual(all);
    expect(settingsFromCommands(ifupdownLines('ens1f0', all, cpuListToMask).join('\n'))).toEqual(all);
  });

  test('a .link file gives back what it holds', () => {
    const { link } = splitForLinkFile(mergeSettings(rings, offloads));
    const back = settingsFromLinkFile(renderLinkFile(match, link));
    expect(back.ring).toEqual({ rx: 4096, tx: 4096 });
    expect(back.features).toEqual(offloads.features);
    expect(back.coalesce).toEqual(offloads.coalesce);
    expect(back.txqueuelen).toBe(5000);
  });

  test("the second task's file keeps the first task's settings, and the first task's then changes nothing", () => {
    const first = renderUdevRule(match, rings, cpuListToMask);
    const second = renderUdevRule(match, mergeSettings(settingsFromCommands(first), offloads), cpuListToMask);
    expect(second).toContain('-G $name rx 4096 tx 4096');
    expect(second).toContain('txqueuelen 5000');
    // the first task again, on the file as the second left it: the same file
    expect(renderUdevRule(match, mergeSettings(settingsFromCommands(second), rings), cpuListToMask)).toBe(second);
  });
});
