import { describe, expect, it } from 'vitest';
import sysctl from '../../../../modules/sysctl.js';

describe('sysctl only_raise', () => {
  it('refuses a value that is not one integer, naming the key', () => {
    expect(sysctl.validate({ values: { 'net.ipv4.tcp_rmem': '4096 87380 6291456', 'fs.file-max': 2097152 }, only_raise: true })).toEqual([
      { path: 'values.net.ipv4.tcp_rmem', message: 'only_raise takes one non-negative integer per key' },
    ]);
    expect(sysctl.validate({ values: { 'net.ipv4.tcp_rmem': '4096 87380 6291456' } })).toEqual([]);
  });

  it('a floor already exceeded is reported as met by snapshot (no drift)', () => {
    const observed = {
      keys: { 'fs.file-max': { live: '9223372036854775807', writable: true } },
      file: { path: '/etc/sysctl.d/90-hvtune.conf', content: null },
      bootFiles: {},
      availableCongestion: null,
    };
    expect(sysctl.snapshot({ values: { 'fs.file-max': 2097152 }, only_raise: true }, observed)['fs.file-max']).toEqual({
      desired: '9223372036854775807',
      persisted: null,
      live: '9223372036854775807',
    });
  });
});
