import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { formatProblem } from '../../../src/errors.js';
import { problemsOf } from './problems.js';
import { loadInventory, parseExtraVars, parseInventory } from '../../../src/inventory.js';

const dir = join(import.meta.dirname, '../../fixtures/input/inventory');
const fixture = (name: string) => join(dir, name);

describe('inventory', () => {
  const inv = loadInventory(fixture('prod.yml'));

  test('hosts in inventory order, groups with their direct hosts and children', () => {
    expect([...inv.hosts.keys()]).toEqual(['bastion', 'hv1', 'hv2', 'hv3', 'xs1', 'xs2']);
    expect(inv.groups.get('all')).toEqual({
      name: 'all',
      hosts: ['bastion', 'hv1', 'hv2', 'hv3', 'xs1', 'xs2'],
      children: ['kvm_hosts', 'xen_hosts', 'ungrouped'],
    });
    expect(inv.groups.get('kvm_hosts')).toEqual({ name: 'kvm_hosts', hosts: ['hv1', 'hv2'], children: ['amd'] });
    expect(inv.groups.get('ungrouped')!.hosts).toEqual(['bastion']);
  });

  test('a host in several groups belongs to all of them and their parents', () => {
    expect(inv.hosts.get('hv2')!.groups).toEqual(['all', 'kvm_hosts', 'amd']);
    expect(inv.hosts.get('hv3')!.groups).toEqual(['all', 'kvm_hosts', 'amd']);
    expect(inv.hosts.get('bastion')!.groups).toEqual(['all', 'ungrouped']);
  });

  test('precedence: all < parent group < child group < host', () => {
    expect(inv.hosts.get('bastion')!.vars.tier).toBe('all');
    expect(inv.hosts.get('hv1')!.vars.tier).toBe('kvm_hosts');
    expect(inv.hosts.get('hv3')!.vars.tier).toBe('amd');
    expect(inv.hosts.get('hv2')!.vars.tier).toBe('host');
    expect(inv.hosts.get('hv3')!.vars).toEqual({ nic: 'ens1f0', tier: 'amd', ring: 4096, numa_policy: 'strict' });
  });

  test('extra vars win over everything, connection keys included', () => {
    const withExtra = loadInventory(fixture('prod.yml'), { tier: 'cli', user: 'deploy' });
    expect(withExtra.hosts.get('hv2')!.vars.tier).toBe('cli');
    expect(withExtra.hosts.get('xs2')!.connection.user).toBe('deploy');
  });

  test('connection: defaults, group vars, host keys', () => {
    expect(inv.hosts.get('hv1')!.connection).toEqual({
      address: '10.0.0.11',
      port: 22,
      user: 'root',
      identity_file: '~/.ssh/id_ed25519',
      jump: 'bastion',
      become: false,
    });
    expect(inv.hosts.get('hv2')!.connection).toMatchObject({ port: 2222 });
    expect(inv.hosts.get('hv3')!.connection).toMatchObject({ address: 'hv3', become: true });
    expect(inv.hosts.get('xs1')!.connection.user).toBe('admin');
    expect(inv.hosts.get('xs2')!.connection.user).toBe('ops');
    expect('user' in inv.hosts.get('xs1')!.vars).toBe(false);
  });

  test('groups of the same depth merge alphabetically', () => {
    const same = loadInventory(fixture('same-depth.yml'));
    expect(same.hosts.get('hv1')!.vars).toEqual({ color: 'zeta', only_alpha: 1 });
    expect(same.hosts.get('hv1')!.groups).toEqual(['all', 'alpha', 'zeta']);
  });

  test('empty vars, hosts and children are allowed', () => {
    const empty = parseInventory('all:\n  vars:\n  hosts:\n    hv1:\n      vars:\n  children:\n    kvm:\n', 'e.yml');
    expect(empty.hosts.get('hv1')!.vars).toEqual({});
    expect(empty.groups.get('kvm')).toEqual({ name: 'kvm', hosts: [], children: [] });
  });

  test('top-level groups other than all are children of all', () => {
    const top = parseInventory('web:\n  hosts: { w1: }\n  vars: { a: 1 }\n', 'top.yml');
    expect(top.hosts.get('w1')!.groups).toEqual(['all', 'web']);
    expect(top.groups.get('all')!.children).toEqual(['web']);
  });
});

describe('inventory problems', () => {
  test('a wrong connection type is an error; variables sit beside the connection keys, as in Ansible', () => {
    const file = fixture('bad-three.yml');
    expect(problemsOf(() => loadInventory(file))).toEqual([
      `${file}:11:11 all.children.kvm_hosts.hosts.hv2.port: must be an integer, got "twenty-two"`,
    ]);
  });

  test('a variable that looks like a misspelt connection key is a warning', () => {
    const inv = parseInventory('all:\n  hosts:\n    hv1: { adress: 10.0.0.11, nic: ens1f0 }\n', 'w.yml');
    expect(inv.hosts.get('hv1')!.vars).toEqual({ adress: '10.0.0.11', nic: 'ens1f0' });
    expect(inv.warnings!.map(formatProblem)).toEqual([
      'w.yml:3:12 hv1: "adress" is a variable, not the connection key "address": is it misspelt?',
    ]);
  });

  test('jump hosts must exist and must not loop', () => {
    const file = fixture('jumps.yml');
    expect(problemsOf(() => loadInventory(file))).toEqual([
      `${file}:4:7 a: jump hosts loop: a → b → c → a`,
      `${file}:6:7 b: jump hosts loop: b → c → a → b`,
      `${file}:8:7 c: jump hosts loop: c → a → b → c`,
      `${file}:10:7 d: jump host "bastoin" is not in the inventory (did you mean "bastion"?)`,
    ]);
  });

  test("Ansible's connection names are hvtune's, wherever they are set", () => {
    const inv = parseInventory(
      'all:\n  vars: { ansible_user: ops, ansible_ssh_private_key_file: /k }\n  hosts:\n    hv1: { ansible_host: 10.0.0.1, ansible_port: 2222, ansible_become: true }\n',
      'a.yml',
    );
    expect(inv.hosts.get('hv1')!.connection).toEqual({ address: '10.0.0.1', port: 2222, user: 'ops', identity_file: '/k', become: true });
    expect(inv.hosts.get('hv1')!.vars).toEqual({});
    expect(problemsOf(() => parseInventory('all:\n  hosts:\n    hv1: { ansible_port: abc }\n', 'a.yml'))).toEqual([
      'a.yml:3:12 all.hosts.hv1.ansible_port: must be an integer, got "abc"',
    ]);
  });

  test('what hvtune cannot honour of Ansible is refused, not ignored', () => {
    expect(
      problemsOf(() =>
        parseInventory(
          'all:\n  hosts:\n    hv1: { ansible_become_password: x }\n    hv2: { ansible_connection: local, ansible_ssh_common_args: "-o ProxyCommand=nc %h %p" }\n',
          'r.yml',
        ),
      ),
    ).toEqual([
      expect.stringMatching(
        /^r\.yml:3:12 hv1: ansible_become_password is not supported: hvtune keeps no password in an inventory; run with -K/,
      ),
      'r.yml:4:12 hv2: ansible_connection: local is not supported: hvtune connects over SSH',
      'r.yml:4:39 hv2: ansible_ssh_common_args: ProxyCommand "nc" is not understood (only ssh -W %h:%p HOST); use ProxyJump',
    ]);
  });

  test('ProxyJump in ansible_ssh_common_args: an inventory host, or a bastion outside every group', () => {
    const inv = parseInventory(
      [
        'all:',
        '  hosts:',
        '    gw: { ansible_host: 192.0.2.1 }',
        '    hv1: { ansible_ssh_common_args: "-o ProxyJump=gw -o StrictHostKeyChecking=no" }',
        `    hv2: { ansible_ssh_common_args: '-o ProxyCommand="ssh -W %h:%p -q admin@198.51.100.7"' }`,
        '    hv3: { ansible_ssh_common_args: "-J jump@203.0.113.5:2200,admin@10.1.0.1" }',
        '',
      ].join('\n'),
      'j.yml',
    );
    expect(inv.hosts.get('hv1')!.connection.jump).toBe('gw');
    expect(inv.hosts.get('hv2')!.connection.jump).toBe('admin@198.51.100.7');
    expect(inv.bastions!.get('admin@198.51.100.7')!.connection).toMatchObject({ address: '198.51.100.7', port: 22, user: 'admin' });
    expect(inv.hosts.get('hv3')!.connection.jump).toBe('admin@10.1.0.1');
    expect(inv.bastions!.get('admin@10.1.0.1')!.connection).toMatchObject({ address: '10.1.0.1', jump: 'jump@203.0.113.5:2200' });
    expect(inv.bastions!.get('jump@203.0.113.5:2200')!.connection).toMatchObject({ address: '203.0.113.5', port: 2200, user: 'jump' });
    // bastions are reached, never targeted
    expect([...inv.hosts.keys()]).toEqual(['gw', 'hv1', 'hv2', 'hv3']);
  });

  test('group keys and connection types in group vars are checked', () => {
    expect(problemsOf(() => parseInventory('all:\n  hsots: {}\n  vars:\n    port: "22"\n', 'g.yml'))).toEqual([
      'g.yml:2:3 all: unknown key "hsots", did you mean "hosts"? (expected one of: hosts, vars, children)',
      'g.yml:4:5 all.vars.port: must be an integer, got "22"',
    ]);
  });

  test('a password is a warning, not an error', () => {
    const inv = parseInventory('all:\n  hosts:\n    hv1: { password: secret }\n', 'p.yml');
    expect(inv.hosts.get('hv1')!.connection.password).toBe('secret');
    expect(inv.warnings!.map(formatProblem)).toEqual([
      'p.yml:3:12 hv1: a password in the inventory is discouraged: use identity_file or an ssh agent',
    ]);
  });

  test('group cycles and an empty inventory', () => {
    const cycle = 'all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n';
    expect(problemsOf(() => parseInventory(cycle, 'c.yml'))).toEqual(['c.yml:3:5: group cycle: a → b → a']);
    expect(problemsOf(() => parseInventory('', 'e.yml'))).toEqual([
      'e.yml:1:1: the inventory is empty: expected groups such as all: { hosts: … }',
    ]);
  });

  test('extra vars with a wrong type for a connection key', () => {
    expect(problemsOf(() => loadInventory(fixture('prod.yml'), { port: 'abc' }))).toEqual(['-e port: must be an integer, got "abc"']);
  });
});

describe('parseExtraVars', () => {
  test('key=value values are YAML scalars', () => {
    expect(parseExtraVars(['port=2222', 'become=true', 'nic=ens1f0', 'ratio=0.5', 'empty='])).toEqual({
      port: 2222,
      become: true,
      nic: 'ens1f0',
      ratio: 0.5,
      empty: '',
    });
  });

  test('several pairs in one item, quotes, mappings and files', () => {
    expect(parseExtraVars(['a=1 b="x y"'])).toEqual({ a: 1, b: 'x y' });
    expect(parseExtraVars(['msg=hello world'])).toEqual({ msg: 'hello world' });
    expect(parseExtraVars(['{"cpus": [0, 1], "name": vm1}'])).toEqual({ cpus: [0, 1], name: 'vm1' });
    expect(parseExtraVars([`@${fixture('extra.yml')}`, 'ring=1024'])).toEqual({ tier: 'from-file', ring: 1024 });
  });

  test('bad items', () => {
    expect(problemsOf(() => parseExtraVars(['novalue']))).toEqual(['-e: "novalue": expected key=value, {"key": value} or @file.yml']);
    expect(problemsOf(() => parseExtraVars(['@/nonexistent.yml']))).toEqual(['/nonexistent.yml:1:1: cannot read file: no such file']);
  });
});
