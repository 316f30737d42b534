// Cross-checks on a real host: a lab host with a private libvirtd and a defined TCG domain of 64
// MiB, through the real CLI. A hard limit below the domain's memory stops the host before any
// change (the task before it included); a ceiling sysctl set below the host's value is a warning
// with both numbers. fs.file-max is machine-global: the host sees a shadow of it, and the play
// that lowers it only runs in check mode.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineTcgDomain, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { changesOn, hvtune, labFile, play } from '../play.js';
import { fields, virshOn } from './virsh.js';

const lab = useLab({ hosts: 1 });
const virsh = virshOn(lab, 'hv1');
let libvirt: LabLibvirt | undefined;
const FILE_MAX = '9223372036854775807';

const book = (hardLimit: string) => `- name: limits
  hosts: all
  tasks:
    - name: short FIN timeout
      sysctl:
        file: /etc/sysctl.d/60-cross.conf
        values: { net.ipv4.tcp_fin_timeout: 15 }
    - name: memory limit of vm1
      libvirt_domain:
        name: vm1
        memtune: { hard_limit: ${hardLimit} }
`;

beforeAll(async () => {
  await lab().shadow('hv1', '/proc/sys/fs/file-max', `${FILE_MAX}\n`);
  libvirt = await startLibvirt(lab(), 'hv1');
  await defineTcgDomain(lab(), 'hv1', 'vm1');
}, 120_000);
afterAll(async () => {
  await libvirt?.stop();
});

describe('cross-checks on a lab host', () => {
  test('a hard limit below the 64 MiB domain: error at its task, nothing changed, in check and apply', async () => {
    const before = fields(await virsh('memtune', 'vm1', '--config')).hard_limit;
    const fin = await lab().readFile('hv1', '/proc/sys/net/ipv4/tcp_fin_timeout');
    for (const check of [true, false]) {
      const r = await play(lab(), book('32MiB'), { check });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.report.crossChecks).toEqual([
        expect.objectContaining({
          host: 'hv1',
          rule: 'memtune-hard-limit',
          severity: 'error',
          task: 'memory limit of vm1',
          message: expect.stringMatching(/^memtune hard_limit 32 MiB on domain vm1 is below its memory of 64 MiB/),
          pos: expect.objectContaining({ line: 8, column: 7 }),
        }),
      ]);
      expect(changesOn(r.report, 'hv1')).toEqual([]);
    }
    expect(fields(await virsh('memtune', 'vm1', '--config')).hard_limit).toBe(before);
    expect(await lab().readFile('hv1', '/proc/sys/net/ipv4/tcp_fin_timeout')).toBe(fin);
    expect(await lab().readFile('hv1', '/etc/sysctl.d/60-cross.conf')).toBeNull();
  });

  test('the plain output names the rule, the task and its line', async () => {
    const file = labFile(lab(), 'cross.yml', book('32MiB'));
    const r = await hvtune(['play', file, '-i', lab().inventoryPath, '--known-hosts', lab().knownHostsPath, '--check']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /hv1 \| cross-check error \[memtune-hard-limit\] \(memory limit of vm1 at .*cross\.yml:8:7\): memtune hard_limit 32 MiB on domain vm1 is below its memory of 64 MiB/,
    );
    expect(r.stdout).toMatch(/hv1 \| FAILED: .*1 cross-check error\(s\).*stopped before any change/);
  });

  test('a limit above the memory passes: applied, then a second run changes nothing', async () => {
    const r = await play(lab(), book('1GiB'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report.crossChecks).toEqual([]);
    expect(fields(await virsh('memtune', 'vm1', '--config')).hard_limit).toBe(String(1048576));
    const again = await play(lab(), book('1GiB'));
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });

  test('fs.file-max below what the host has: a warning with both numbers (check mode)', async () => {
    const r = await play(
      lab(),
      `- name: files\n  hosts: all\n  tasks:\n    - name: file handles\n      sysctl: { values: { fs.file-max: 65536 } }\n`,
      {
        check: true,
      },
    );
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.report.crossChecks.map((p) => [p.rule, p.severity, p.message])).toEqual([
      [
        'sysctl-max-lowered',
        'warning',
        expect.stringMatching(new RegExp(`^fs.file-max 65536 is below what the kernel has now \\(${FILE_MAX}\\)`)),
      ],
    ]);
    expect(r.report.warnings.join('\n')).toMatch(/\[sysctl-max-lowered\] fs.file-max 65536/);
    expect(await lab().readFile('hv1', '/proc/sys/fs/file-max')).toBe(`${FILE_MAX}\n`);
  });
});
