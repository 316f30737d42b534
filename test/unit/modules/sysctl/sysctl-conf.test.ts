import { describe, expect, it } from 'vitest';
import { bootOrder, canonicalKey, keyToProcPath, normaliseSysctlValue, updateSysctlConf } from '../../../../modules/lib/sysctl-conf.js';

describe('normaliseSysctlValue', () => {
  it('folds whitespace and compares integer lists as integers', () => {
    expect(normaliseSysctlValue('4096\t87380\t33554432')).toBe('4096 87380 33554432');
    expect(normaliseSysctlValue(' 04096  87380 33554432 ')).toBe('4096 87380 33554432');
    expect(normaliseSysctlValue([4096, 87380, 33554432])).toBe('4096 87380 33554432');
    expect(normaliseSysctlValue(0)).toBe('0');
    expect(normaliseSysctlValue('cubic')).toBe('cubic');
  });
});

describe('keys', () => {
  it('maps dotted keys to /proc/sys, a slash standing for a dot in names', () => {
    expect(keyToProcPath('net.ipv4.tcp_rmem')).toBe('/proc/sys/net/ipv4/tcp_rmem');
    expect(keyToProcPath('net.ipv4.conf.eth0/100.rp_filter')).toBe('/proc/sys/net/ipv4/conf/eth0.100/rp_filter');
  });
  it('reads the slash form of keys as the dotted form', () => {
    expect(canonicalKey('net/ipv4/tcp_rmem')).toBe('net.ipv4.tcp_rmem');
    expect(canonicalKey('net/ipv4/conf/eth0.100/rp_filter')).toBe('net.ipv4.conf.eth0/100.rp_filter');
    expect(canonicalKey('net.ipv4.tcp_rmem')).toBe('net.ipv4.tcp_rmem');
  });
});

describe('updateSysctlConf', () => {
  it('keeps comments, other keys and order; appends new keys', () => {
    const before = '# header\n; old style comment\nvm.swappiness = 10\nnet.core.somaxconn=128\n';
    const after = updateSysctlConf(
      before,
      new Map([
        ['net.core.somaxconn', '4096'],
        ['net.ipv4.tcp_fin_timeout', '30'],
      ]),
    );
    expect(after).toBe('# header\n; old style comment\nvm.swappiness = 10\nnet.core.somaxconn = 4096\nnet.ipv4.tcp_fin_timeout = 30\n');
  });
  it('leaves a line that already has the value as written', () => {
    const before = 'net.ipv4.tcp_rmem=4096\t87380\t33554432';
    expect(updateSysctlConf(before, new Map([['net.ipv4.tcp_rmem', '4096 87380 33554432']]))).toBe(before + '\n');
  });
  it('keeps the ignore-errors dash of a rewritten line', () => {
    expect(updateSysctlConf('-net.core.somaxconn = 1\n', new Map([['net.core.somaxconn', '2']]))).toBe('-net.core.somaxconn = 2\n');
  });
});

describe('bootOrder', () => {
  it('sorts by file name across directories, /etc shadowing /usr/lib, sysctl.conf last', () => {
    const files = {
      '/usr/lib/sysctl.d/50-default.conf': 'a=1',
      '/etc/sysctl.d/50-default.conf': 'a=2',
      '/etc/sysctl.d/10-first.conf': 'b=1',
      '/run/sysctl.d/70-run.conf': 'c=1',
      '/etc/sysctl.conf': 'd=1',
    };
    expect(bootOrder(files)).toEqual([
      '/etc/sysctl.d/10-first.conf',
      '/etc/sysctl.d/50-default.conf',
      '/run/sysctl.d/70-run.conf',
      '/etc/sysctl.conf',
    ]);
  });
});
