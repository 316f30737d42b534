// Inventories as Ansible users keep them: INI, directories, host lists, group_vars/ and host_vars/
// beside the inventory and the playbook, with Ansible's precedence.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { formatProblem } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory.js';
import { hostPattern, parseIniInventory, pythonLiteral } from '../../../src/inventory/ini.js';
import { problemsOf } from './problems.js';

const repo = join(import.meta.dirname, '../../fixtures/input/ansible-repo');
const scratch = mkdtempSync(join(tmpdir(), 'hvtune-inv-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
};

describe('an Ansible repo: INI + YAML in a directory, group_vars/ and host_vars/', () => {
  const inv = loadInventory(join(repo, 'inventory'), {}, { playbookDir: join(repo, 'playbooks') });

  test('hosts in source order (files by name), groups and children as Ansible builds them', () => {
    expect([...inv.hosts.keys()]).toEqual(['bastion', 'hv1', 'hv2', 'hv3', 'xs1', 'hv9']);
    expect(inv.groups.get('kvm_hosts')).toEqual({ name: 'kvm_hosts', hosts: ['hv1', 'hv2', 'hv3'], children: ['amd'] });
    expect(inv.groups.get('hypervisors')!.children).toEqual(['kvm_hosts', 'xen_hosts']);
    expect(inv.groups.get('all')!.children).toEqual(['ungrouped', 'hypervisors', 'lab']);
    expect(inv.groups.get('ungrouped')!.hosts).toEqual(['bastion']);
    expect(inv.hosts.get('hv3')!.groups).toEqual(['all', 'hypervisors', 'kvm_hosts', 'amd']);
  });

  test('precedence: inventory group vars < group_vars/all < group_vars/* < playbook group_vars/* < host < host_vars/', () => {
    expect(inv.hosts.get('hv1')!.vars).toEqual({
      tier: 'group_vars_all',
      ansible_python_interpreter: '/usr/bin/python3',
      nic: 'ens1f0',
      numa_policy: 'strict',
      ntp_server: '192.0.2.123',
      hugepages: 4,
      rx_ring: 8192,
    });
    expect(inv.hosts.get('hv2')!.vars).toMatchObject({ ring: 8192, hugepages: 8, rx_ring: 8192 });
    // amd is deeper than kvm_hosts: its group_vars win
    expect(inv.hosts.get('hv3')!.vars).toMatchObject({ hugepages: 32, avic: 1, ring: 4096, pinned: true, label: 'rack 7' });
    expect(inv.hosts.get('hv9')!.vars).toEqual({
      tier: 'group_vars_all',
      ansible_python_interpreter: '/usr/bin/python3',
      ntp_server: '192.0.2.123',
      nic: 'eth1',
    });
  });

  test('connection from Ansible variables, INI strings typed, ProxyJump to an inventory host', () => {
    expect(inv.hosts.get('hv1')!.connection).toMatchObject({ address: 'hv1', port: 22, user: 'ops', become: true, jump: 'bastion' });
    expect(inv.hosts.get('hv3')!.connection).toMatchObject({ address: '10.0.0.13', port: 2222, become: true, jump: 'bastion' });
    expect(inv.hosts.get('xs1')!.connection).toMatchObject({ address: '10.0.1.21', become: false });
    expect(inv.hosts.get('xs1')!.connection.jump).toBeUndefined();
    expect(inv.hosts.get('bastion')!.connection.address).toBe('192.0.2.1');
  });

  test('every file read is listed (saved plans hash them); README.md is skipped', () => {
    const names = inv.files!.map((f) => f.slice(repo.length + 1));
    expect(names).toEqual([
      'inventory/hosts',
      'inventory/lab.yml',
      'inventory/group_vars/all.yml',
      'inventory/group_vars/amd.yml',
      'inventory/group_vars/kvm_hosts/mem.yml',
      'inventory/group_vars/kvm_hosts/net.yml',
      'inventory/host_vars/hv2.yml',
      'playbooks/group_vars/kvm_hosts.yml',
      'playbooks/host_vars/hv1.yml',
    ]);
  });
});

describe('-i forms', () => {
  test('a host list, with a trailing comma or several names', () => {
    const inv = loadInventory('10.0.0.5,');
    expect([...inv.hosts.keys()]).toEqual(['10.0.0.5']);
    expect(inv.hosts.get('10.0.0.5')!.groups).toEqual(['all', 'ungrouped']);
    expect([...loadInventory('hv1,hv2').hosts.keys()]).toEqual(['hv1', 'hv2']);
  });

  test('several -i merge: hosts and groups of both, later sources win for the same variable', () => {
    const a = write('a.yml', 'kvm:\n  hosts:\n    hv1: { nic: eth0 }\n  vars: { x: a }\n');
    const b = write('b.ini', '[kvm]\nhv2\n[kvm:vars]\nx=b\n[xen]\nhv1\n');
    const inv = loadInventory([a, b]);
    expect([...inv.hosts.keys()]).toEqual(['hv1', 'hv2']);
    expect(inv.groups.get('kvm')!.hosts).toEqual(['hv1', 'hv2']);
    expect(inv.hosts.get('hv1')!.groups).toEqual(['all', 'kvm', 'xen']);
    expect(inv.hosts.get('hv1')!.vars).toEqual({ nic: 'eth0', x: 'b' });
    expect(inv.file).toBe(`${a}, ${b}`);
  });

  test('a missing file, an empty directory', () => {
    expect(problemsOf(() => loadInventory(join(scratch, 'nope.yml')))).toEqual([
      `${join(scratch, 'nope.yml')}:1:1: cannot read the inventory: no such file or directory`,
    ]);
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    expect(problemsOf(() => loadInventory(empty))).toEqual([`${empty}:1:1: the inventory directory holds no inventory file`]);
  });

  test('group_vars of a group the inventory lacks is a warning (a typo is likely)', () => {
    const dir = join(scratch, 'gv');
    mkdirSync(join(dir, 'group_vars'), { recursive: true });
    writeFileSync(join(dir, 'hosts'), '[kvm]\nhv1\n');
    writeFileSync(join(dir, 'group_vars', 'kvm_host.yml'), 'nic: eth0\n');
    const inv = loadInventory(dir);
    expect(inv.warnings!.map(formatProblem)).toEqual([
      `${join(dir, 'group_vars', 'kvm_host.yml')}:1:1: group_vars for "kvm_host", a group the inventory does not have: not used`,
    ]);
  });

  test('an inventory over the size limit is refused before parsing', () => {
    const big = write('big.yml', `all:\n  hosts:\n${'    h: {}\n'.repeat(500_000)}`);
    expect(problemsOf(() => loadInventory(big))[0]).toMatch(
      /hvtune reads inputs up to 4\.0 MiB \(4194304 bytes\); set HVTUNE_MAX_INPUT_BYTES/,
    );
  });
});

describe('the INI reader', () => {
  test('problems point at the INI line and column', () => {
    expect(problemsOf(() => parseIniInventory('[kvm\nhv1\n', 'x.ini'))).toEqual([
      'x.ini:1:1: expected a section header such as [group], [group:vars] or [group:children], found "[kvm"',
    ]);
    expect(problemsOf(() => parseIniInventory('[kvm]\nhv1 port\n[kvm:vars]\nnovalue\n', 'x.ini'))).toEqual([
      'x.ini:2:5: expected key=value after the host name, found "port"',
      'x.ini:4:1: expected key=value in [kvm:vars]',
    ]);
    const file = write('types.ini', '[kvm]\nhv1 ansible_port=twenty\n');
    expect(problemsOf(() => loadInventory(file))).toEqual([`${file}:2:5 kvm.hosts.hv1.ansible_port: must be an integer, got "twenty"`]);
  });

  test('host-line values are Python literals, :vars values strings', () => {
    expect(pythonLiteral('1')).toBe(1);
    expect(pythonLiteral('True')).toBe(true);
    expect(pythonLiteral('true')).toBe('true');
    expect(pythonLiteral("'a b'")).toBe('a b');
    expect(pythonLiteral("['a', 2, None]")).toEqual(['a', 2, null]);
    const src = parseIniInventory('[kvm]\nhv1 n=1\n[kvm:vars]\nn=1\nb="quoted value"\n', 'v.ini');
    expect(src.value).toEqual({ kvm: { hosts: { hv1: { n: 1 } }, vars: { n: '1', b: 'quoted value' } } });
  });

  test('host patterns: ranges with width, letters, steps, and ports', () => {
    expect(hostPattern('hv[01:03].dc').names).toEqual(['hv01.dc', 'hv02.dc', 'hv03.dc']);
    expect(hostPattern('db-[a:c]').names).toEqual(['db-a', 'db-b', 'db-c']);
    expect(hostPattern('n[0:6:3]').names).toEqual(['n0', 'n3', 'n6']);
    expect(hostPattern('hv1:2222')).toEqual({ names: ['hv1'], port: 2222 });
    expect(() => hostPattern('hv[5:1]')).toThrow(/the start is after the end/);
  });
});

describe('~/.ssh/config', () => {
  const config = write(
    'ssh_config',
    [
      'Host hv7',
      '  HostName 10.0.0.7',
      '  User ops',
      '  Port 2200',
      '  IdentityFile ~/.ssh/hv7_key',
      '  ProxyJump gw',
      'Host gw',
      '  HostName 198.51.100.1',
      '  User jumper',
      'Host 10.0.0.*',
      '  User net',
      'Match exec "touch /tmp/hvtune-ssh-config-must-not-run"',
      '  User never',
      '',
    ].join('\n'),
  );

  test('a host only in the ssh config: HostName, User, Port, IdentityFile, ProxyJump to a bastion of its own', () => {
    const inv = loadInventory(write('only.ini', '[kvm]\nhv7\n'), {}, { sshConfig: config });
    expect(inv.hosts.get('hv7')!.connection).toEqual({
      address: '10.0.0.7',
      port: 2200,
      user: 'ops',
      identity_file: '~/.ssh/hv7_key',
      become: false,
      jump: 'gw',
    });
    expect(inv.bastions!.get('gw')!.connection).toMatchObject({ address: '198.51.100.1', user: 'jumper', port: 22 });
    expect([...inv.hosts.keys()]).toEqual(['hv7']);
  });

  test('the inventory wins over the config; the config matches the address the host is reached by', () => {
    const inv = loadInventory(
      write('over.ini', '[kvm]\nhv7 ansible_user=root ansible_port=22\nhv8 ansible_host=10.0.0.8\n'),
      {},
      { sshConfig: config },
    );
    expect(inv.hosts.get('hv7')!.connection).toMatchObject({ address: '10.0.0.7', port: 22, user: 'root', jump: 'gw' });
    expect(inv.hosts.get('hv8')!.connection).toMatchObject({ address: '10.0.0.8', user: 'net' });
  });

  test('Match exec never runs a command', () => {
    loadInventory(write('m.ini', 'x\n'), {}, { sshConfig: config });
    expect(existsSync('/tmp/hvtune-ssh-config-must-not-run')).toBe(false);
  });
});
