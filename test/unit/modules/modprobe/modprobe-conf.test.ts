import { describe, expect, it } from 'vitest';
import { configOrder, effectiveOptions, editModprobeFile, loadedAtBoot, normaliseParam } from '../../../../modules/lib/modprobe-conf.js';

describe('modprobe.d', () => {
  it('orders files by name across directories; /etc shadows the same name in /lib', () => {
    const files = {
      '/lib/modprobe.d/kvm.conf': '',
      '/etc/modprobe.d/kvm.conf': '',
      '/lib/modprobe.d/aliases.conf': '',
      '/etc/modprobe.d/zz.conf': '',
    };
    expect(configOrder(files)).toEqual(['/lib/modprobe.d/aliases.conf', '/etc/modprobe.d/kvm.conf', '/etc/modprobe.d/zz.conf']);
  });
  it('gives a parameter the value of the last options line kmod reads', () => {
    const files = {
      '/etc/modprobe.d/a.conf': 'options kvm_amd avic=0 nested=1\n',
      '/etc/modprobe.d/b.conf': '# avic on\noptions kvm-amd \\\n  avic=1\n',
    };
    expect(Object.fromEntries([...effectiveOptions(files, 'kvm_amd')].map(([k, v]) => [k, v.value]))).toEqual({ avic: '1', nested: '1' });
  });
  it('normalises booleans as the kernel prints them', () => {
    expect([normaliseParam('Y'), normaliseParam('N\n'), normaliseParam(true), normaliseParam(0), normaliseParam(' 250000 ')]).toEqual([
      '1',
      '0',
      '1',
      '0',
      '250000',
    ]);
  });
  it('keeps a user file that holds only comments after absent, and keeps bytes when nothing changes', () => {
    expect(editModprobeFile('# mine\noptions igb max_vfs=7\n', { module: 'igb', state: 'absent' })).toBe('# mine\n');
    expect(editModprobeFile('options igb max_vfs=7', { module: 'igb', options: { max_vfs: '7' }, state: 'present' })).toBe(
      'options igb max_vfs=7',
    );
  });
  it('finds modules listed for boot, comments ignored', () => {
    expect(loadedAtBoot({ '/etc/modules': '# loop\nvhost_net # for guests\n' }, 'vhost-net')).toEqual(['/etc/modules']);
    expect(loadedAtBoot({ '/etc/modules': '# loop\n' }, 'loop')).toEqual([]);
  });
});
