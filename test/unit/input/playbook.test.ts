import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { formatProblem } from '../../../src/errors.js';
import { problemsOf } from './problems.js';
import { loadPlaybook, parsePlaybook, validateArgs } from '../../../src/playbook.js';
import { fakeModules } from './fake-modules.js';

const dir = join(import.meta.dirname, '../../fixtures/input/playbook');

const parse = (yaml: string) => parsePlaybook(yaml, 'pb.yml', fakeModules);

describe('a valid playbook', () => {
  const file = join(dir, 'site.yml');
  const playbook = loadPlaybook(file, fakeModules);
  const [kvm, xen] = playbook.plays;

  test('plays with defaults', () => {
    expect(playbook.file).toBe(file);
    expect(kvm).toMatchObject({
      name: 'KVM host network',
      hosts: 'kvm_hosts:!hv3',
      vars: { backlog: 250000 },
      gatherFacts: true,
      tags: [],
    });
    expect(kvm.pos).toEqual({ file, line: 1, column: 3 });
    expect(xen).toMatchObject({ name: 'xen_hosts,bastion', hosts: 'xen_hosts,bastion', gatherFacts: false, tags: ['xen'], tasks: [] });
  });

  test('tasks keep their module, arguments and keywords', () => {
    const [napi, ring, irq] = kvm.tasks;
    expect(napi).toMatchObject({
      name: 'NAPI budget',
      module: 'sysctl',
      args: { values: { 'net.core.netdev_max_backlog': 250000, 'net.core.netdev_budget': '{{ budget }}' } },
      notify: ['reload sysctl'],
      tags: ['network', 'sysctl'],
      ignoreErrors: false,
      path: 'plays[0].tasks[0]',
      pos: { file, line: 6, column: 7 },
    });
    expect(ring).toMatchObject({
      module: 'nic',
      when: "eq facts.cpu.vendor 'AuthenticAMD'",
      loop: '{{ nics }}',
      register: 'ring',
      ignoreErrors: true,
      notify: [],
    });
    expect(irq).toMatchObject({ name: 'service', module: 'service', path: 'plays[0].tasks[2]' });
    expect(kvm.handlers.map((h) => h.name)).toEqual(['reload sysctl']);
    expect(kvm.handlers[0].path).toBe('plays[0].handlers[0]');
  });

  test('rendered arguments are validated with the task positions', () => {
    const napi = kvm.tasks[0];
    expect(validateArgs(napi, { values: { 'net.core.netdev_budget': 600 } })).toEqual([]);
    expect(validateArgs(napi, { values: { 'net.core.netdev_budget': 'six hundred' } }).map(formatProblem)).toEqual([
      `${file}:10:11 plays[0].tasks[0].sysctl.values: "net.core.netdev_budget" must be an integer or integers separated by spaces`,
    ]);
  });
});

describe('playbook problems, all at once', () => {
  test('unknown key, unknown module, wrong type, two modules, no module, missing handler', () => {
    const file = join(dir, 'bad.yml');
    expect(problemsOf(() => loadPlaybook(file, fakeModules))).toEqual([
      `${file}:3:3 plays[0]: unknown key "gather_fact", did you mean "gather_facts"? (expected one of: name, hosts, vars, tasks, handlers, gather_facts, tags, serial, max_fail_percentage, any_errors_fatal, …)`,
      `${file}:6:7 plays[0].tasks[0]: unknown module "sysclt", did you mean "sysctl"?`,
      `${file}:11:11 plays[0].tasks[1].sysctl.values: "net.core.somaxconn" must be an integer or integers separated by spaces`,
      `${file}:12:7 plays[0].tasks[1].notify: no handler named "restart networking" in this play (handlers: "reload")`,
      `${file}:15:7 plays[0].tasks[2]: a task runs exactly one module, found 2: sysctl, service`,
      `${file}:16:7 plays[0].tasks[3]: the task has no module (one of: nic, service, sysctl)`,
    ]);
  });

  test('a template defers the check of that value, not of the others', () => {
    expect(
      problemsOf(() => parse('- hosts: all\n  tasks:\n    - sysctl:\n        values: { a.b: "{{ x }}" }\n        fiel: /etc/x\n')),
    ).toEqual(['pb.yml:5:9 plays[0].tasks[0].sysctl: unknown key "fiel", did you mean "file"? (expected one of: values, file)']);
    const ok = parse('- hosts: all\n  tasks:\n    - nic: { device: "{{ nic }}", rx: "{{ ring }}" }\n');
    expect(ok.plays[0].tasks[0].args).toEqual({ device: '{{ nic }}', rx: '{{ ring }}' });
  });

  test("a module's own validate runs when nothing is left to render", () => {
    expect(problemsOf(() => parse('- hosts: all\n  tasks:\n    - service: { name: sshd, state: stopped }\n'))).toEqual([
      'pb.yml:3:30 plays[0].tasks[0].service.state: stopping sshd would cut the connection hvtune runs on',
    ]);
  });

  test('task keywords: types and hints for Ansible names', () => {
    const yaml = `- hosts: all
  tasks:
    - nic: { device: eth0 }
      with_items: [a]
      when: [x]
      ignore_errors: yes
      register: "my result"
`;
    expect(problemsOf(() => parse(yaml))).toEqual([
      'pb.yml:4:7 plays[0].tasks[0]: unknown key "with_items", did you mean "loop"?',
      `pb.yml:5:7 plays[0].tasks[0].when: must be true, false or an expression without braces, e.g. "eq facts.cpu.vendor 'AuthenticAMD'"`,
      'pb.yml:6:7 plays[0].tasks[0].ignore_errors: must be true or false, got "yes" (YAML 1.2: write true or false)',
      'pb.yml:7:7 plays[0].tasks[0].register: must be a variable name (letters, digits and _)',
    ]);
  });

  test('plays need hosts; the playbook is a list', () => {
    expect(problemsOf(() => parse('- name: x\n  tasks: []\n'))).toEqual(['pb.yml:1:3 plays[0]: missing required key "hosts"']);
    expect(problemsOf(() => parse('hosts: all\n'))).toEqual(['pb.yml:1:1 plays: must be a list, got a mapping']);
    expect(problemsOf(() => parse(''))).toEqual(['pb.yml:1:1: the playbook is empty: expected a list of plays']);
  });

  test('an unknown module far from any name lists the modules', () => {
    expect(problemsOf(() => parse('- hosts: all\n  tasks:\n    - apt: { name: x }\n'))).toEqual([
      'pb.yml:3:7 plays[0].tasks[0]: unknown module "apt" (modules: nic, service, sysctl)',
    ]);
  });

  test('handler names are unique; notify may be a list', () => {
    const yaml = `- hosts: all
  tasks:
    - nic: { device: eth0 }
      notify: [a, b]
  handlers:
    - { name: a, service: { name: x } }
    - { name: a, service: { name: y } }
`;
    expect(problemsOf(() => parse(yaml))).toEqual([
      'pb.yml:4:19 plays[0].tasks[0].notify: no handler named "b" in this play (handlers: "a")',
      'pb.yml:7:7 plays[0].handlers[1]: another handler is named "a" (plays[0].handlers[0]); handler names must be unique',
    ]);
  });
});
