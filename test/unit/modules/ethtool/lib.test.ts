// The named normalisers and renderers of modules/lib/ethtool-*.ts that fixtures do not reach.

import { describe, expect, it } from 'vitest';
import {
  cpuListToMask,
  maskToCpuList,
  normaliseFeatureName,
  featureArgName,
  normaliseFlowHash,
  normaliseOnOff,
} from '../../../../modules/lib/ethtool-parse.js';
import { withStanzaBlock, hasStanza } from '../../../../modules/lib/ethtool-persist.js';

describe('xps masks', () => {
  it('CPU lists become the comma-grouped hex masks the kernel prints, and back', () => {
    expect(cpuListToMask('0')).toBe('1');
    expect(cpuListToMask('0-1')).toBe('3');
    expect(cpuListToMask('4,0')).toBe('11');
    expect(cpuListToMask('32')).toBe('1,00000000');
    expect(cpuListToMask('0,63')).toBe('80000000,00000001');
    for (const list of ['0', '0-1', '2-3', '0,32-33,63']) expect(maskToCpuList(cpuListToMask(list))).toBe(list);
    expect(maskToCpuList('00000000,00000000')).toBe('');
    expect(maskToCpuList('cat: no such file')).toBeNull();
  });
});

describe('names and values', () => {
  it('short and long feature names meet on the long one; -K gets the short one back', () => {
    expect(normaliseFeatureName('GRO')).toBe('generic-receive-offload');
    expect(normaliseFeatureName('tx-nocache-copy')).toBe('tx-nocache-copy');
    expect(featureArgName('large-receive-offload')).toBe('lro');
    expect(featureArgName('rx-gro-list')).toBe('rx-gro-list');
  });
  it('rx-flow-hash letters are a set; r stands alone; other letters are refused', () => {
    expect(normaliseFlowHash('sdnf')).toBe('sdfn');
    expect(normaliseFlowHash('nfds')).toBe('sdfn');
    expect(normaliseFlowHash('r')).toBe('r');
    expect(() => normaliseFlowHash('sdr')).toThrow(/cannot be combined/);
    expect(() => normaliseFlowHash('sdx')).toThrow(/unknown field letters x/);
  });
  it('on/off accepts YAML booleans and words; 0 is off, not absent', () => {
    expect([true, 'on', 'yes', 1].map(normaliseOnOff)).toEqual(['on', 'on', 'on', 'on']);
    expect([false, 'off', 'no', 0].map(normaliseOnOff)).toEqual(['off', 'off', 'off', 'off']);
    expect(normaliseOnOff('maybe')).toBeNull();
  });
});

describe('ifupdown stanza block', () => {
  const interfaces = 'auto lo\niface lo inet loopback\n\nauto ens4\niface ens4 inet dhcp\n';
  it('goes right after the iface line and replaces itself on the next run', () => {
    const once = withStanzaBlock(interfaces, 'ens4', ['    post-up /usr/sbin/ethtool -G ens4 rx 1024']);
    expect(once).toBe(
      'auto lo\niface lo inet loopback\n\nauto ens4\niface ens4 inet dhcp\n    # hvtune ethtool begin\n    post-up /usr/sbin/ethtool -G ens4 rx 1024\n    # hvtune ethtool end\n',
    );
    expect(withStanzaBlock(once, 'ens4', ['    post-up /usr/sbin/ethtool -G ens4 rx 2048'])).toBe(once.replace('1024', '2048'));
    expect(withStanzaBlock(once, 'ens4', [])).toBe(interfaces);
  });
  it('finds stanzas by exact name only', () => {
    expect(hasStanza(interfaces, 'ens4')).toBe(true);
    expect(hasStanza(interfaces, 'ens')).toBe(false);
    expect(hasStanza(null, 'ens4')).toBe(false);
  });
});
