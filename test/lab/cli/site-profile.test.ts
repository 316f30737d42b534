// A site's repo builds on a shipped profile instead of copying it (issue 17, composition): its own
// profile kvm-latency includes the shipped kvm-host-network, overrides two of its values
// (vhost_zerocopy_tx, nic_txqueuelen: two opt-ins a lab host can take) and adds a task of its own; the playbook reads the lab's NIC from a
// vars file and brings two tasks with import_tasks/include_tasks under a when:; the inventory
// overrides one of kvm-latency's defaults. Applied on a tier-1 lab host through the real CLI: the
// host has every value from the right place, and a second run changes nothing. As in
// test/lab/playbooks/kvm-host-network.test.ts, the parts a namespace and a veth lack are skipped by
// tag, the CPU vendor comes from the lab host's own facts with the vendor set, and the host gets an
// empty /sys/module.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { useLab } from '../lab.js';
import { changesOn, hvtune, labFacts, withCpuVendor, type Report } from '../play.js';

const lab = useLab({ hosts: 1 });

const FILES: Record<string, string> = {
  'site.yml': [
    '- name: Latency-tuned KVM hosts',
    '  hosts: all',
    '  vars_files: [vars/lab.yml]',
    '  profiles: [kvm-latency]',
    '  tasks:',
    '    - import_tasks: tasks/amd.yml',
    `      when: "eq facts.cpu.vendor 'AuthenticAMD'"`,
    '    - include_tasks: tasks/intel.yml',
    `      when: "eq facts.cpu.vendor 'GenuineIntel'"`,
    '',
  ].join('\n'),
  // the include's when: decides for each task it brings (the lab host's facts say AMD)
  'tasks/amd.yml':
    '- name: Keepalive on AMD hosts\n  sysctl: { file: /etc/sysctl.d/62-site-amd.conf, values: { net.ipv4.tcp_keepalive_time: 600 } }\n',
  'tasks/intel.yml':
    '- name: Keepalive on Intel hosts\n  sysctl: { file: /etc/sysctl.d/62-site-intel.conf, values: { net.ipv4.tcp_keepalive_time: 900 } }\n',
  // a lab host's NIC is its veth; without a udev daemon, persist: auto finds nothing to use
  // and it has no queue interrupts to place
  'vars/lab.yml': 'host_nic: eth0\nnic_persist: udev\nnic_irq_affinity: false\n',
  'profiles/kvm-latency.yml': [
    'description: kvm-host-network with zero-copy transmit, a longer NIC queue, and short FIN timeouts',
    'include: [kvm-host-network]',
    'defaults:',
    '  vhost_zerocopy_tx: true',
    '  nic_txqueuelen: 5000',
    '  fin_timeout: 15',
    'tasks:',
    '  - name: Short FIN timeout',
    '    sysctl:',
    '      file: /etc/sysctl.d/61-site-latency.conf',
    '      values: { net.ipv4.tcp_fin_timeout: "{{fin_timeout}}" }',
    '',
  ].join('\n'),
  // the inventory's word beats a profile default
  'inventory/site.yml': 'all:\n  vars:\n    fin_timeout: 20\n',
};

let repo = '';
let amdFacts = '';
beforeAll(async () => {
  await lab().shadowTree('hv1', '/sys/module', {});
  amdFacts = await labFacts(lab(), withCpuVendor('AuthenticAMD'));
  repo = join(lab().dir, 'site-repo');
  for (const [path, text] of Object.entries(FILES)) {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
});

async function run(check: boolean, more: string[] = []): Promise<{ code: number; report: Report; stderr: string; stdout: string }> {
  const r = await hvtune([
    'play',
    join(repo, 'site.yml'),
    '-i',
    lab().inventoryPath,
    '-i',
    join(repo, 'inventory/site.yml'),
    '--known-hosts',
    lab().knownHostsPath,
    '--json',
    '--records',
    join(lab().dir, 'runs'),
    '--skip-tags',
    'boot,napi,nic-ring',
    '--facts',
    amdFacts,
    ...(check ? ['--check'] : []),
    ...more,
  ]);
  return {
    code: r.code,
    report: r.code === 0 || r.code === 2 ? (JSON.parse(r.stdout) as Report) : ({} as Report),
    stderr: r.stderr,
    stdout: r.stdout,
  };
}

const sysctl = async (key: string) => (await lab().exec('hv1', ['sysctl', '-n', key])).stdout.trim();

describe('a site profile that includes a shipped one', () => {
  test('check mode: the shipped tasks, then the site task, with the overridden values; nothing changes', async () => {
    const r = await run(true);
    expect(r.code, r.stderr).toBe(2);
    const tasks = [...new Set(changesOn(r.report, 'hv1').map((c) => c.task))];
    expect(tasks.slice(-2)).toEqual(['Short FIN timeout', 'Keepalive on AMD hosts']);
    // the site's two overrides turn on two of the shipped profile's opt-ins
    expect(tasks).toContain('vhost-net zero-copy transmit (opt-in)');
    expect(tasks).toContain('Host NIC transmit queue length (opt-in)');
    expect(tasks).not.toContain('Bridged traffic skips iptables');
    expect(await lab().readFile('hv1', '/etc/modprobe.d/hvtune-vhost_net.conf')).toBeNull();
  });

  test('applied: each value from its place on the host; a second run changes nothing', async () => {
    const bridgeBefore = await sysctl('net.bridge.bridge-nf-call-iptables');
    const r = await run(false);
    expect(r.code, r.stderr).toBe(0);
    // the two values the site profile overrides
    expect(await lab().readFile('hv1', '/etc/modprobe.d/hvtune-vhost_net.conf')).toContain('options vhost_net experimental_zcopytx=1');
    expect((await lab().exec('hv1', ['ip', 'link', 'show', 'eth0'])).stdout).toMatch(/qlen 5000/);
    // the shipped profile's own default, untouched by the site: bridge netfilter left alone
    expect(await sysctl('net.bridge.bridge-nf-call-iptables')).toBe(bridgeBefore);
    // the vars file's NIC
    expect((await lab().exec('hv1', ['ethtool', '-k', 'eth0'])).stdout).toMatch(/^generic-receive-offload: on/m);
    // the site's task, with the inventory's value over the profile default (15)
    expect(await sysctl('net.ipv4.tcp_fin_timeout')).toBe('20');
    expect(await lab().readFile('hv1', '/etc/sysctl.d/61-site-latency.conf')).toContain('net.ipv4.tcp_fin_timeout = 20');

    // the play's own tasks from the included files: only the one whose include's when: holds
    expect(await sysctl('net.ipv4.tcp_keepalive_time')).toBe('600');
    expect(await lab().readFile('hv1', '/etc/sysctl.d/62-site-intel.conf')).toBeNull();

    const again = await run(false);
    expect(again.code, again.stderr).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
  });

  test('the run record hashes the profile: a run of an edited profile is another playbook to --resume', async () => {
    const first = await run(false);
    const record = /run record: (\S+)/.exec(first.stderr)?.[1];
    expect(record, first.stderr).toBeDefined();
    const profile = join(repo, 'profiles/kvm-latency.yml');
    writeFileSync(profile, FILES['profiles/kvm-latency.yml'].replace('nic_txqueuelen: 5000', 'nic_txqueuelen: 6000'));
    const resumed = await run(false, ['--resume', record!]);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toMatch(/resume refused: the playbook is not the one that run used/);
    expect((await lab().exec('hv1', ['ip', 'link', 'show', 'eth0'])).stdout).toMatch(/qlen 5000/);
    writeFileSync(profile, FILES['profiles/kvm-latency.yml']);
  });
});
