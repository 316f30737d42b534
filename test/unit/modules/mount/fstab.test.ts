import { describe, expect, it } from 'vitest';
import {
  findFstabEntry,
  formatFstabEntry,
  missingLiveOptions,
  normaliseOptionValue,
  parseFstabLine,
  parseMountinfo,
  removeFstabEntry,
  sameMountOptions,
  setFstabEntry,
  unescapeMountField,
  escapeMountField,
} from '../../../../modules/lib/fstab.js';

const entry = {
  src: 'hugetlbfs',
  path: '/dev/hugepages1G',
  fstype: 'hugetlbfs',
  opts: 'pagesize=1G,mode=1770,gid=kvm',
  dump: 0,
  passno: 0,
};

describe('fstab lines', () => {
  it('skips comments, blank and short lines', () => {
    expect(parseFstabLine('# comment')).toBeNull();
    expect(parseFstabLine('   ')).toBeNull();
    expect(parseFstabLine('/dev/sda1 /')).toBeNull();
  });
  it('fills defaults for missing trailing fields', () => {
    expect(parseFstabLine('tmpfs /tmp tmpfs')).toEqual({
      src: 'tmpfs',
      path: '/tmp',
      fstype: 'tmpfs',
      opts: 'defaults',
      dump: 0,
      passno: 0,
    });
  });
  it('decodes octal escapes both ways', () => {
    expect(unescapeMountField('/mnt/my\\040disk')).toBe('/mnt/my disk');
    expect(escapeMountField('/mnt/my disk')).toBe('/mnt/my\\040disk');
    expect(parseFstabLine('/dev/sdb1 /mnt/my\\040disk ext4 defaults 0 2')?.path).toBe('/mnt/my disk');
  });
  it('the last entry for a path wins; a trailing slash names the same mount point', () => {
    const text = 'a /data ext4 defaults 0 0\nb /data/ ext4 noatime 0 2\n';
    expect(findFstabEntry(text, '/data')?.src).toBe('b');
  });
});

describe('editing fstab', () => {
  const fstab =
    '# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=1 /     ext4  errors=remount-ro 0 1\n\n/swap  none  swap  sw                0 0';
  it('appends to a file without a final newline, keeping every other byte', () => {
    const out = setFstabEntry(fstab, entry);
    expect(out.startsWith(fstab + '\n')).toBe(true);
    expect(out.endsWith('\n')).toBe(true);
    expect(findFstabEntry(out, '/dev/hugepages1G')).toEqual(entry);
  });
  it('creates the file when there is none', () => {
    expect(setFstabEntry(null, entry)).toBe('hugetlbfs /dev/hugepages1G hugetlbfs pagesize=1G,mode=1770,gid=kvm 0 0\n');
  });
  it('replaces only the entry line, in place', () => {
    const text = 'x /a ext4 defaults 0 0\nhugetlbfs /dev/hugepages1G hugetlbfs mode=0755 0 0\ny /b ext4 defaults 0 0\n';
    const out = setFstabEntry(text, entry).split('\n');
    expect(out[0]).toBe('x /a ext4 defaults 0 0');
    expect(out[1]).toBe('hugetlbfs /dev/hugepages1G hugetlbfs pagesize=1G,mode=1770,gid=kvm 0 0');
    expect(out[2]).toBe('y /b ext4 defaults 0 0');
  });
  it('uses tabs when the template line does', () => {
    expect(formatFstabEntry(entry, 'a\t/b\text4\tdefaults\t0\t0')).toBe(
      'hugetlbfs\t/dev/hugepages1G\thugetlbfs\tpagesize=1G,mode=1770,gid=kvm\t0\t0',
    );
  });
  it('aligns to the template columns', () => {
    expect(formatFstabEntry({ ...entry, path: '/h', opts: 'mode=1770' }, 'tmpfs      /tmp   tmpfs      defaults    0 0')).toBe(
      'hugetlbfs  /h     hugetlbfs  mode=1770   0 0',
    );
  });
  it('removes every entry of the path and nothing else', () => {
    const text = '# c\na /h x y 0 0\nb /k x y 0 0\nc /h x z 0 0\n';
    expect(removeFstabEntry(text, '/h')).toBe('# c\nb /k x y 0 0\n');
  });
});

describe('mount options', () => {
  const ids = { groups: { kvm: 107 }, users: { qemu: 64055 } };
  it.each([
    ['pagesize', '1G', '1073741824'],
    ['pagesize', '1024M', '1073741824'],
    ['size', '16384k', '16777216'],
    ['size', '50%', '50%'],
    ['mode', '0750', '0750'],
    ['mode', '750', '0750'],
    ['gid', 'kvm', '107'],
    ['gid', '0', '0'],
    ['uid', 'qemu', '64055'],
    ['gid', 'nosuchgroup', 'nosuchgroup'],
  ])('%s=%s normalises to %s', (k, v, want) => expect(normaliseOptionValue(k, v, ids)).toBe(want));

  it('compares as sets with values', () => {
    expect(sameMountOptions('pagesize=1G,mode=1770,gid=kvm', 'gid=107,mode=1770,pagesize=1024M', ids)).toBe(true);
    expect(sameMountOptions('defaults', '', ids)).toBe(true);
    expect(sameMountOptions('mode=1770', 'mode=0755', ids)).toBe(false);
    expect(sameMountOptions('ro', 'ro,noexec', ids)).toBe(false);
  });
  it('live: only desired options the kernel shows, and missing ones are listed', () => {
    const live = 'rw,relatime,rw,gid=107,mode=1770,pagesize=1024M';
    expect(missingLiveOptions('defaults,nofail,x-systemd.automount,pagesize=1G,mode=1770,gid=kvm', live, ids)).toEqual([]);
    expect(missingLiveOptions('mode=0755,noexec', live, ids)).toEqual(['mode=0755', 'noexec']);
    expect(missingLiveOptions('size=50%', 'rw,size=1024k', ids)).toEqual([]);
  });
});

describe('mountinfo', () => {
  // a line captured on a tier-1 lab host, plus an escaped mount point
  const text =
    '212 199 0:75 / /mnt/hvtune-huge rw,relatime - hugetlbfs hugetlbfs rw,gid=107,mode=1770,pagesize=1024M\n' +
    '36 25 0:32 / /mnt/my\\040disk rw,nosuid shared:12 - tmpfs tmpfs rw,size=1024k\n' +
    'garbage\n';
  it('parses optional fields, escapes and both option lists', () => {
    expect(parseMountinfo(text)).toEqual([
      { path: '/mnt/hvtune-huge', src: 'hugetlbfs', fstype: 'hugetlbfs', opts: 'rw,relatime,rw,gid=107,mode=1770,pagesize=1024M' },
      { path: '/mnt/my disk', src: 'tmpfs', fstype: 'tmpfs', opts: 'rw,nosuid,rw,size=1024k' },
    ]);
  });
});
