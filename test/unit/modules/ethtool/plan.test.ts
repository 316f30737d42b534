import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import ethtool from '../../../../modules/ethtool.js';
import { checkSchema } from '../../../../src/schema.js';
import { describePlanFixtures } from '../grub_cmdline/fixtures.js';

describePlanFixtures(ethtool, fileURLToPath(new URL('./plan', import.meta.url)));

describe('ethtool schema', () => {
  const ok = (args: unknown) => checkSchema(ethtool.schema, args).length === 0;
  it('accepts the shape of the issue', () => {
    expect(
      ok({
        device: 'ens3',
        ring: { rx: 1024, tx: 'max' },
        channels: { combined: 4 },
        features: { gro: 'on', 'tx-nocache-copy': 'off' },
        coalesce: { 'rx-usecs': 50, 'adaptive-rx': 'off' },
        rx_flow_hash: { udp4: 'sdfn' },
        txqueuelen: 5000,
        xps: { 0: '0-1', 1: '2-3' },
        persist: 'auto',
      }),
    ).toBe(true);
    expect(ok({ device: { mac: '52:54:00:12:34:56' }, features: { gro: true } })).toBe(true);
    expect(ok({ device: { pci: '0000:00:03.0' }, txqueuelen: 0, persist: 'link-file' })).toBe(true);
  });
  it('refuses shell characters, unknown keys and impossible values', () => {
    expect(ok({ device: 'eth0; reboot', txqueuelen: 1 })).toBe(false);
    expect(ok({ device: 'a-name-longer-than-15', txqueuelen: 1 })).toBe(false);
    expect(ok({ device: { mac: '52:54:00:12:34' } })).toBe(false);
    expect(ok({ device: 'eth0', ring: { rx: -1 } })).toBe(false);
    expect(ok({ device: 'eth0', ring: { big: 1 } })).toBe(false);
    expect(ok({ device: 'eth0', features: { 'gro $(id)': 'on' } })).toBe(false);
    expect(ok({ device: 'eth0', features: { gro: 'maybe' } })).toBe(false);
    expect(ok({ device: 'eth0', rx_flow_hash: { udp4: 'sdx' } })).toBe(false);
    expect(ok({ device: 'eth0', xps: { 0: '0-1; rm -rf /' } })).toBe(false);
    expect(ok({ device: 'eth0', persist: 'sometimes' })).toBe(false);
  });
});
