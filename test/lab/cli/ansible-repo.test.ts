// An operator's Ansible repo as it is: an INI inventory in a directory with group_vars/ and
// host_vars/, group_vars/ beside the playbook, Ansible's connection variables, and one host that
// only ~/.ssh/config knows how to reach. Every value must come from the place Ansible takes it.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { hvtune } from '../play.js';

const lab = useLab({ hosts: 3 });

// the shipped tcp-tuning profile, its tcp_max_buffer default overridden from group_vars/, then
// the site's own task over inventory variables
const SITE = `
- name: site tuning from inventory variables
  hosts: hypervisors
  profiles: [tcp-tuning]
  tasks:
    - name: not-sent low water mark and keepalive
      sysctl:
        file: /etc/sysctl.d/60-site.conf
        values:
          net.ipv4.tcp_notsent_lowat: "{{ lowat }}"
          net.ipv4.tcp_keepalive_probes: "{{ probes }}"
          net.ipv4.tcp_keepalive_time: "{{ keepalive }}"
`;

let repo: string;
let savedSshConfig: string | undefined;

beforeAll(() => {
  const [hv1, hv2, hv3] = lab().hosts;
  repo = join(lab().dir, 'ansible-repo');
  for (const d of ['inventory/group_vars', 'inventory/host_vars', 'playbooks/group_vars']) mkdirSync(join(repo, d), { recursive: true });
  const file = (path: string, text: string) => writeFileSync(join(repo, path), text);
  // hv3 is in the inventory by its alias only: ssh's config says where it is and as whom
  file(
    'inventory/hosts',
    [
      `hv1 ansible_host=${hv1.address} ansible_port=${hv1.port}`,
      '',
      '[kvm]',
      `hv2 ansible_host=${hv2.address} keepalive=600`,
      'hv3',
      '',
      '[hypervisors:children]',
      'kvm',
      '',
      '[hypervisors]',
      'hv1',
      '',
      '[hypervisors:vars]',
      'probes=40',
      '',
    ].join('\n'),
  );
  file(
    'inventory/group_vars/all.yml',
    `ansible_user: root\nansible_ssh_private_key_file: ${lab().keyPath}\nlowat: 1024\nkeepalive: 1200\n`,
  );
  file('inventory/group_vars/kvm.yml', 'lowat: 2048\ntcp_max_buffer: 16777216\n');
  file('inventory/host_vars/hv3.yml', 'probes: 35\n');
  file('playbooks/group_vars/kvm.yml', 'lowat: 4096\n');
  file('playbooks/site.yml', SITE);
  const sshConfig = join(repo, 'ssh_config');
  writeFileSync(sshConfig, `Host hv3\n  HostName ${hv3.address}\n  Port ${hv3.port}\n  User root\n  IdentityFile ${lab().keyPath}\n`);
  savedSshConfig = process.env.HVTUNE_SSH_CONFIG;
  process.env.HVTUNE_SSH_CONFIG = sshConfig;
});
afterAll(() => {
  if (savedSshConfig === undefined) delete process.env.HVTUNE_SSH_CONFIG;
  else process.env.HVTUNE_SSH_CONFIG = savedSshConfig;
});

async function live(host: string, key: string): Promise<string> {
  return (await lab().exec(host, ['cat', `/proc/sys/${key.replace(/\./g, '/')}`])).stdout.trim();
}

const run = (...extra: string[]) =>
  hvtune(['play', join(repo, 'playbooks/site.yml'), '-i', join(repo, 'inventory'), '--known-hosts', lab().knownHostsPath, ...extra]);

describe('an Ansible repo, unchanged', () => {
  it('applies with every variable from where Ansible takes it, then converges', async () => {
    const r = await run();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // the shipped profile: its default on hv1, group_vars/kvm.yml's value on the kvm hosts
    expect((await live('hv1', 'net.ipv4.tcp_rmem')).split(/\s+/).at(-1)).toBe('33554432');
    for (const h of ['hv2', 'hv3']) expect((await live(h, 'net.ipv4.tcp_rmem')).split(/\s+/).at(-1)).toBe('16777216');
    // hv1: ungrouped in the INI but in [hypervisors]; group_vars/all, [hypervisors:vars]
    expect(await live('hv1', 'net.ipv4.tcp_notsent_lowat')).toBe('1024');
    expect(await live('hv1', 'net.ipv4.tcp_keepalive_probes')).toBe('40');
    expect(await live('hv1', 'net.ipv4.tcp_keepalive_time')).toBe('1200');
    // hv2: the playbook's group_vars/kvm.yml over the inventory's; its host-line variable
    expect(await live('hv2', 'net.ipv4.tcp_notsent_lowat')).toBe('4096');
    expect(await live('hv2', 'net.ipv4.tcp_keepalive_time')).toBe('600');
    // hv3: reached through ~/.ssh/config only; host_vars/hv3.yml over the group's :vars
    expect(await live('hv3', 'net.ipv4.tcp_notsent_lowat')).toBe('4096');
    expect(await live('hv3', 'net.ipv4.tcp_keepalive_probes')).toBe('35');
    const again = await run('--json');
    expect(again.code, again.stderr).toBe(0);
    const recap = JSON.parse(again.stdout).recap as Record<string, { changed: number }>;
    expect(Object.fromEntries(Object.entries(recap).map(([h, c]) => [h, c.changed]))).toEqual({ hv1: 0, hv2: 0, hv3: 0 });
  });

  it('hvtune inventory --host shows the same values without connecting', async () => {
    const r = await hvtune(['inventory', '-i', join(repo, 'inventory'), '--playbook-dir', join(repo, 'playbooks'), '--host', 'hv3']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      lowat: 4096,
      probes: 35,
      keepalive: 1200,
      address: lab().hosts[2].address,
      user: 'root',
      identity_file: lab().keyPath,
    });
  });
});
