// Dated advice (seeds/README.md): one test per rule, on playbooks loaded with the real module
// registry, checking the message and the file:line:col a user is sent to.

import { beforeAll, describe, expect, it } from 'vitest';
import { loadModules } from '../../../modules/index.js';
import { datedAdvice } from '../../../src/dated.js';
import { formatProblem } from '../../../src/errors.js';
import { parsePlaybook, type ModuleRegistry } from '../../../src/playbook.js';

let modules: ModuleRegistry;
beforeAll(async () => {
  modules = await loadModules();
});

/** One play of the given tasks (YAML, indented as list items under tasks:). */
function warningsFor(tasks: string) {
  const text = `- name: dated\n  hosts: all\n  tasks:\n${tasks}`;
  return datedAdvice(parsePlaybook(text, 'site.yml', modules));
}
const lines = (tasks: string) => warningsFor(tasks).map(formatProblem);

describe('net.ipv4.tcp_tw_recycle', () => {
  it('warns at the sysctl key, naming the kernel that removed it', () => {
    const w = warningsFor(`    - name: seed 004 TIME-WAIT
      sysctl:
        values:
          net.ipv4.tcp_tw_reuse: 1
          net.ipv4.tcp_tw_recycle: 1
`);
    expect(w).toHaveLength(1);
    expect(w[0].severity).toBe('warning');
    expect(formatProblem(w[0])).toBe(
      'site.yml:8:11 plays[0].tasks[0].sysctl.values["net.ipv4.tcp_tw_recycle"]: net.ipv4.tcp_tw_recycle was removed in Linux 4.12 ' +
        '(and broke clients behind NAT before that): setting it fails on current kernels; drop it ' +
        '(net.ipv4.tcp_tw_reuse is the part of that advice that still holds)',
    );
  });

  it('also in a sysctl.conf line, but not when the task removes it', () => {
    expect(
      lines(`    - lineinfile: {path: /etc/sysctl.conf, line: "net.ipv4.tcp_tw_recycle = 1"}
    - lineinfile: {path: /etc/sysctl.conf, regexp: "^net.ipv4.tcp_tw_recycle", state: absent}
`),
    ).toEqual([
      expect.stringMatching(
        /^site\.yml:4:44 plays\[0\]\.tasks\[0\]\.lineinfile\.line: net\.ipv4\.tcp_tw_recycle was removed in Linux 4\.12/,
      ),
    ]);
  });
});

describe('elevator= on the kernel command line', () => {
  it('warns for present, not for absent (removing it is the fix)', () => {
    const w = lines(`    - grub_cmdline:
        present: [hugepagesz=1G, elevator=mq-deadline]
    - grub_cmdline:
        absent: [elevator]
`);
    expect(w).toEqual([
      'site.yml:5:34 plays[0].tasks[0].grub_cmdline.present[1]: elevator= on the kernel command line does nothing since Linux 5.0 (blk-mq): ' +
        'set the scheduler per device with the sysfs module (block: {match: "sd*", attributes: {queue/scheduler: mq-deadline}}), ' +
        'which persists it by a udev rule',
    ]);
  });

  it('in a line of /etc/default/grub written by lineinfile', () => {
    expect(
      lines(`    - lineinfile:
        path: /etc/default/grub
        regexp: "^GRUB_CMDLINE_LINUX="
        line: 'GRUB_CMDLINE_LINUX="quiet elevator=mq-deadline"'
`),
    ).toEqual([
      expect.stringContaining(
        'site.yml:7:9 plays[0].tasks[0].lineinfile.line: elevator= on the kernel command line does nothing since Linux 5.0',
      ),
    ]);
  });
});

describe('scheduler names cfq / noop / deadline', () => {
  it.each([
    ['cfq', 'bfq'],
    ['noop', 'none'],
    ['deadline', 'mq-deadline'],
  ])('sysfs queue/scheduler %s → %s', (old, modern) => {
    const w = lines(`    - sysfs:
        block: {match: "sd*", attributes: {queue/scheduler: ${old}}}
`);
    expect(w).toEqual([
      `site.yml:5:44 plays[0].tasks[0].sysfs.block.attributes["queue/scheduler"]: the I/O scheduler "${old}" is gone since Linux 5.0 ` +
        `(blk-mq schedulers: mq-deadline, bfq, kyber, none): use ${modern} (cfq → bfq, noop → none, deadline → mq-deadline)`,
    ]);
  });

  it('a single sysfs path, and elevator=cfq (both rules), but not mq-deadline', () => {
    const w = warningsFor(`    - sysfs: {path: /sys/block/sda/queue/scheduler, value: noop}
    - sysfs: {path: /sys/block/sda/queue/scheduler, value: mq-deadline}
    - grub_cmdline: {present: [elevator=cfq]}
`);
    expect(w.map((p) => [p.pos?.line, p.message.slice(0, 40)])).toEqual([
      [4, 'the I/O scheduler "noop" is gone since L'],
      [6, 'elevator= on the kernel command line doe'],
      [6, 'the I/O scheduler "cfq" is gone since Li'],
    ]);
  });

  it('an echo into queue/scheduler in a file', () => {
    expect(
      lines(`    - file: {path: /etc/rc.local, content: "echo deadline > /sys/block/sda/queue/scheduler\\n"}
`),
    ).toEqual([expect.stringContaining('the I/O scheduler "deadline" is gone since Linux 5.0')]);
  });
});

describe('hugepagesz=1GB', () => {
  it('warns with the documented spelling, for both keys', () => {
    const w = lines(`    - grub_cmdline:
        present: [default_hugepagesz=1GB, hugepagesz=1GB, hugepages=16]
`);
    expect(w).toEqual([
      'site.yml:5:19 plays[0].tasks[0].grub_cmdline.present[0]: default_hugepagesz=1GB: write default_hugepagesz=1G, the form the kernel ' +
        'documents (kernel-parameters.txt); command-line arguments are compared as text, so 1GB and 1G would count as two different values',
      expect.stringMatching(/^site\.yml:5:43 plays\[0\]\.tasks\[0\]\.grub_cmdline\.present\[1\]: hugepagesz=1GB: write hugepagesz=1G,/),
    ]);
  });

  it('1G is fine', () => {
    expect(lines('    - grub_cmdline: {present: [hugepagesz=1G, hugepages=16]}\n')).toEqual([]);
  });
});

describe('/etc/default/qemu-kvm KVM_HUGEPAGES', () => {
  it('warns once for the line of the cookbook', () => {
    const w = lines(`    - lineinfile:
        path: /etc/default/qemu-kvm
        regexp: "^KVM_HUGEPAGES="
        line: KVM_HUGEPAGES=1
`);
    expect(w).toEqual([
      expect.stringMatching(/^site\.yml:5:9 plays\[0\]\.tasks\[0\]\.lineinfile\.path: \/etc\/default\/qemu-kvm KVM_HUGEPAGES is obsolete/),
      expect.stringMatching(
        /^site\.yml:7:9 plays\[0\]\.tasks\[0\]\.lineinfile\.line: .*libvirt_domain memory_backing: \{hugepages: true\}/,
      ),
    ]);
  });
});

describe('ifconfig … txqueuelen', () => {
  it('in a command argv', () => {
    expect(
      lines(`    - command: {argv: [/sbin/ifconfig, eth0, txqueuelen, "5000"]}
`),
    ).toEqual([
      'site.yml:4:24 plays[0].tasks[0].command.argv[0]: ifconfig … txqueuelen is dated (net-tools is deprecated): today it is ' +
        '`ip link set dev IF txqueuelen N`, and the ethtool module sets txqueuelen and persists it across reboots',
    ]);
  });

  it('not for ip link, nor for ifconfig without txqueuelen', () => {
    expect(
      lines(`    - command: {argv: [ip, link, set, dev, eth0, txqueuelen, "5000"]}
    - command: {argv: [ifconfig, eth0, up]}
`),
    ).toEqual([]);
  });
});

it('handlers are checked too, and a clean playbook has no warnings', () => {
  const text = `- hosts: all
  tasks:
    - sysctl: {values: {net.ipv4.tcp_fin_timeout: 30}}
      notify: old
  handlers:
    - name: old
      command: {argv: [ifconfig, eth0, txqueuelen, "5000"]}
`;
  const w = datedAdvice(parsePlaybook(text, 'h.yml', modules));
  expect(w.map(formatProblem)).toEqual([expect.stringMatching(/^h\.yml:7:24 plays\[0\]\.handlers\[0\]\.command\.argv\[0\]: ifconfig/)]);
});
