// Templates and when: expressions are checked when the playbook is loaded, before anything
// connects: every problem at the template's own file:line:column, with what was expected.
import { describe, expect, test } from 'vitest';
import { parseInventory } from '../../../src/inventory.js';
import { parsePlaybook } from '../../../src/playbook.js';
import { playScopes } from '../../../src/template-scope.js';
import { checkTemplate } from '../../../src/template.js';
import { loadModules } from '../../../modules/index.js';
import { problemsOf } from './problems.js';

const modules = await loadModules();

const inventory = parseInventory(
  `all:
  vars: { site: lab }
  hosts:
    hv1: { vars: { nic: eth0 } }
    hv2: {}
`,
  'inv.yml',
);

const load = (yaml: string, extra: Record<string, unknown> = {}) =>
  parsePlaybook(yaml, 'pb.yml', modules, () => playScopes(inventory, extra));
const problems = (yaml: string, extra: Record<string, unknown> = {}) => problemsOf(() => load(yaml, extra));

const play = (tasks: string, vars = '{ buf: 4096 }') => `- hosts: all
  vars: ${vars}
  tasks:
${tasks}`;

// columns point at the character at fault: the "|", the "*", the "=", the variable
describe('the template mistakes of issues 15 and 17, each at its position with the form hvtune accepts', () => {
  test('a Jinja filter', () => {
    expect(problems(play(`    - command: { argv: [echo, "{{ buf | default(30) }}"] }`))).toEqual([
      'pb.yml:4:39 plays[0].tasks[0].command.argv[1]: invalid template "{{ buf | default(30) }}": unexpected "|"; Jinja filters ("| default") are not Handlebars: write {{default buf 30}}',
    ]);
  });

  test('Jinja arithmetic', () => {
    expect(problems(play(`    - command: { argv: [echo, "{{ buf * 2 }}"] }`))[0]).toMatch(
      /^pb\.yml:4:39 .*invalid template "\{\{ buf \* 2 \}\}": .*arithmetic is a helper: write \{\{mul buf 2\}\}$/,
    );
  });

  test('a Jinja comparison in when:, answered without braces', () => {
    expect(problems(play(`    - command: { argv: [echo] }\n      when: buf == "b"`))).toEqual([
      'pb.yml:5:17 plays[0].tasks[0].when: invalid when expression "buf == \\"b\\"": unexpected "="; Handlebars has no operators ("=="); comparison is a helper: write eq buf "b"',
    ]);
  });

  test('a Handlebars syntax error', () => {
    expect(problems(play(`    - command: { argv: [echo, "a {{ buf }"] }`))[0]).toMatch(
      /^pb\.yml:4:\d+ .*invalid template "a \{\{ buf \}": unexpected/,
    );
  });

  test('an undefined variable, with the closest name', () => {
    expect(problems(play(`    - command: { argv: [echo, "x {{ bfu }}"] }`))).toEqual([
      `pb.yml:4:37 plays[0].tasks[0].command.argv[1]: undefined variable "bfu": not set by the play's vars, the inventory, -e or an earlier task's register; did you mean "buf"?`,
    ]);
  });
});

describe('what a template may read', () => {
  test('play vars, inventory vars of every host, -e, facts, inventory_hostname, group_names', () => {
    expect(() =>
      load(
        play(
          `    - command: { argv: [echo, "{{buf}} {{site}} {{extra}} {{facts.cpu.vendor}} {{inventory_hostname}} {{group_names}} {{node_cpus facts 0}}"] }`,
        ),
        { extra: 1 },
      ),
    ).not.toThrow();
  });

  test('a variable some hosts lack is named with those hosts, unless the task checks it is defined', () => {
    expect(problems(play(`    - command: { argv: [echo, "{{nic}}"] }`))[0]).toMatch(
      /undefined variable "nic": not set on hv2 \(the inventory sets it for hv1 only\)/,
    );
    expect(() => load(play(`    - command: { argv: [echo, "{{nic}}"] }\n      when: "defined nic"`))).not.toThrow();
    expect(() => load(play(`    - command: { argv: [echo, "{{#if (defined nic)}}{{nic}}{{/if}} {{default nic 'x'}}"] }`))).not.toThrow();
  });

  test('with --limit, only the hosts that run', () => {
    const yaml = play(`    - command: { argv: [echo, "{{nic}}"] }`);
    expect(() => parsePlaybook(yaml, 'pb.yml', modules, () => playScopes(inventory, {}, 'hv1'))).not.toThrow();
  });

  test('item only in a task with loop; register only after the task that registers', () => {
    expect(() => load(play(`    - command: { argv: [echo, "{{item}}"] }\n      loop: [1, 2]`))).not.toThrow();
    expect(problems(play(`    - command: { argv: [echo, "{{item}}"] }`))[0]).toMatch(
      /undefined variable "item": item is defined only in a task with loop:/,
    );
    expect(() =>
      load(
        play(
          `    - command: { argv: [echo] }\n      register: out\n    - command: { argv: [echo, "{{out.changed}}"] }\n      when: out.changed`,
        ),
      ),
    ).not.toThrow();
    expect(problems(play(`    - command: { argv: [echo, "{{out}}"] }\n    - command: { argv: [echo] }\n      register: out`))).toHaveLength(
      1,
    );
  });

  test('facts against the facts schema', () => {
    expect(
      problems(play(`    - command: { argv: [echo, "{{facts.cpu.vendr}}", "{{facts.nics.name}}", "{{facts.nics.[0].name}}"] }`)),
    ).toEqual([
      'pb.yml:4:34 plays[0].tasks[0].command.argv[1]: unknown fact "facts.cpu.vendr" (did you mean "facts.cpu.vendor"?)',
      'pb.yml:4:57 plays[0].tasks[0].command.argv[2]: "facts.nics.name": facts.nics is a list; use an index (facts.nics.[0]) or a helper',
    ]);
  });

  test('every problem of the playbook at once, schema and templates together', () => {
    const all = problems(
      play(`    - command: { argv: [echo, "{{a}}", "{{nope 1}}"], bogus: 1 }\n      when: "{{b}"\n    - command: { argv: ["{{c}}"] }`),
    );
    expect(all).toHaveLength(5);
  });
});

describe('prototype lookups are refused wherever they are written', () => {
  for (const text of ['{{constructor}}', '{{__proto__}}', '{{buf.constructor}}', '{{lookup buf "constructor"}}', '{{facts.__proto__.x}}']) {
    test(text, () => {
      expect(checkTemplate(text).map((f) => f.message)).toEqual([expect.stringMatching(/a property of every JavaScript object/)]);
    });
  }
  test('in play vars and keys too', () => {
    expect(problems(play(`    - command: { argv: [echo] }`, `{ a: "{{constructor}}" }`))[0]).toMatch(
      /^pb\.yml:2:17 plays\[0\]\.vars\.a: "constructor" reads/,
    );
  });
});

describe('unknown helpers and infix habits', () => {
  test('an unknown helper is named with the closest one', () => {
    expect(checkTemplate('{{ jion buf }}')[0].message).toMatch(/unknown helper "jion": did you mean "join"/);
  });
  test('"x is defined" and "a and b" in when:', () => {
    expect(checkTemplate('nic is defined', { condition: true })[0].message).toMatch(/Jinja's "is defined" is written defined nic/);
    expect(checkTemplate('a and b', { condition: true })[0].message).toMatch(/write and a b/);
  });
});
