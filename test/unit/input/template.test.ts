import { describe, expect, test } from 'vitest';
import { problemsOf } from './problems.js';
import { evalCondition, registerHelpers, renderLoop, renderValue } from '../../../src/template.js';

const where = { task: 'tune nic', path: 'plays[0].tasks[1]', pos: { file: 'site.yml', line: 9, column: 7 } };
const ctx = {
  cpu_count: 8,
  ratio: 0.5,
  nic: 'ens1f0',
  nics: ['ens1f0', 'ens1f1'],
  flag: false,
  empty: [],
  zero: 0,
  facts: { cpu: { vendor: 'AuthenticAMD', count: 16 }, numa: { nodes: [{ cpus: [0, 1] }, { cpus: [2, 3] }] } },
  item: { name: 'vm1', vcpus: 4 },
  inventory_hostname: 'hv1',
  groups: { kvm_hosts: ['hv1', 'hv2'] },
};

const render = (value: unknown, context: Record<string, unknown> = ctx) => renderValue(value, context, where);

describe('strict rendering', () => {
  test('an undefined variable is an error naming the task, the position and the variable', () => {
    expect(problemsOf(() => render('dev {{ nic_name }}'))).toEqual([
      'site.yml:9:7 plays[0].tasks[1] "tune nic": undefined variable "nic_name"',
    ]);
  });

  test('undefined in a helper argument, a nested path, a single mustache, a loop body', () => {
    const undefinedVar = (text: string) => problemsOf(() => render(text))[0].replace(/^.*: /, '');
    expect(undefinedVar('{{ eq nic_name "x" }}')).toBe('undefined variable "nic_name"');
    expect(undefinedVar('{{ facts.cpu.model }}')).toBe('undefined variable "facts.cpu.model"');
    expect(undefinedVar('x{{ facts.memory.total }}')).toBe('undefined variable "facts.memory.total"');
    expect(undefinedVar('{{ len (default facts.nics.list) }}')).toMatch(/undefined variable "facts\.nics"/);
    expect(undefinedVar('{{#each nics}}{{ speed }}{{/each}}')).toBe('undefined variable "speed"');
  });

  test('every problem of a value at once', () => {
    expect(problemsOf(() => render({ a: '{{ x }}', b: ['{{ y }}'], '{{ z }}': 1 }))).toHaveLength(3);
  });

  test('no HTML escaping', () => {
    expect(render('{{ v }}', { v: `a<b>&"c'` })).toBe(`a<b>&"c'`);
    expect(render('x={{ v }}', { v: '<&>' })).toBe('x=<&>');
  });

  test('unknown helpers and syntax errors', () => {
    expect(problemsOf(() => render('{{ lenn nics }}'))[0]).toMatch(/unknown helper "lenn" in "\{\{ lenn nics \}\}", did you mean "len"\?$/);
    expect(problemsOf(() => render('{{ nic '))[0]).toMatch(/invalid template "\{\{ nic ": unexpected end of template$/);
  });
});

describe('a single mustache keeps the type of its value', () => {
  test.each([
    ['{{ cpu_count }}', 8],
    ['{{ratio}}', 0.5],
    ['{{ flag }}', false],
    ['{{ nics }}', ['ens1f0', 'ens1f1']],
    ['{{ facts.cpu }}', { vendor: 'AuthenticAMD', count: 16 }],
    ['{{ item.vcpus }}', 4],
    ['{{ div cpu_count 2 }}', 4],
    ['{{ add (mul cpu_count 2) 1 }}', 17],
    ['{{ zero }}', 0],
    ['{{ "literal" }}', 'literal'],
  ])('%s', (template, expected) => {
    expect(render(template)).toEqual(expected);
  });

  test('text around a mustache makes a string', () => {
    expect(render(' {{ cpu_count }}')).toBe(' 8');
    expect(render('{{ cpu_count }}{{ cpu_count }}')).toBe('88');
    expect(render('cpus={{ join nics "," }}')).toBe('cpus=ens1f0,ens1f1');
  });

  test('objects and arrays are rendered recursively, keys too', () => {
    expect(render({ '{{ nic }}': { rx: '{{ cpu_count }}', list: ['{{ zero }}', 'x'] }, n: 3 })).toEqual({
      ens1f0: { rx: 8, list: [0, 'x'] },
      n: 3,
    });
  });

  test('registered helpers are typed too', () => {
    registerHelpers({ node_cpus: (facts: any, node: number) => facts.numa.nodes[node].cpus });
    expect(render('{{node_cpus facts 1}}')).toEqual([2, 3]);
    expect(render('cpus {{join (node_cpus facts 0) "-"}}')).toBe('cpus 0-1');
  });
});

describe('helpers', () => {
  test.each([
    ['{{ eq nic "ens1f0" }}', true],
    ['{{ ne cpu_count 8 }}', false],
    ['{{ lt 1 2 }}', true],
    ['{{ le 2 2 }}', true],
    ['{{ gt "b" "a" }}', true],
    ['{{ ge 1 2 }}', false],
    ['{{ and cpu_count nic }}', 'ens1f0'],
    ['{{ and flag nic }}', false],
    ['{{ or flag empty "fallback" }}', 'fallback'],
    ['{{ not empty }}', true],
    ['{{ default missing 4 }}', 4],
    ['{{ default cpu_count 4 }}', 8],
    ['{{ defined missing }}', false],
    ['{{ join nics }}', 'ens1f0,ens1f1'],
    ['{{ join nics " " }}', 'ens1f0 ens1f1'],
    ['{{ len nics }}', 2],
    ['{{ len facts.cpu }}', 2],
    ['{{ len nic }}', 6],
    ['{{ includes nics "ens1f1" }}', true],
    ['{{ includes groups.kvm_hosts inventory_hostname }}', true],
    ['{{ min 3 1 2 }}', 1],
    ['{{ max (node_cpus facts 1) }}', 3],
    ['{{ add nics (node_cpus facts 0) }}', ['ens1f0', 'ens1f1', 0, 1]],
    ['{{ sub cpu_count 2 }}', 6],
    ['{{ mul cpu_count ratio }}', 4],
    ['{{ div 9 2 }}', 4.5],
    ['{{ json facts.cpu }}', '{"vendor":"AuthenticAMD","count":16}'],
  ])('%s', (template, expected) => {
    registerHelpers({ node_cpus: (facts: any, node: number) => facts.numa.nodes[node].cpus });
    expect(render(template)).toEqual(expected);
  });

  test('wrong argument types are errors, not NaN', () => {
    expect(problemsOf(() => render('{{ add nic 1 }}'))[0]).toMatch(/: add: expected numbers, got "ens1f0"$/);
    expect(problemsOf(() => render('{{ div 1 0 }}'))[0]).toMatch(/: div: division by zero$/);
    expect(problemsOf(() => render('{{ join nic }}'))[0]).toMatch(/: join: expected a list, got "ens1f0"$/);
    expect(problemsOf(() => render('{{ lt nic 1 }}'))[0]).toMatch(/: lt: expected numbers, got "ens1f0"$/);
  });
});

describe('when', () => {
  test.each([
    [true, true],
    [false, false],
    ["eq facts.cpu.vendor 'AuthenticAMD'", true],
    ['gt facts.cpu.count 32', false],
    ['flag', false],
    ['nics', true],
    ['empty', false],
    ['zero', false],
    ['not (defined nic_name)', true],
    ['and (defined nic) (includes nics nic)', true],
    ['{{ flag }}', false],
    ['x{{ flag }}', true],
  ])('%s → %s', (when, expected) => {
    expect(evalCondition(when, ctx, where)).toBe(expected);
  });

  test('undefined variables and Jinja syntax are errors', () => {
    expect(problemsOf(() => evalCondition('nic_name', ctx, where))).toEqual([
      'site.yml:9:7 plays[0].tasks[1] "tune nic": undefined variable "nic_name"',
    ]);
    expect(problemsOf(() => evalCondition("facts.cpu.vendor == 'AMD'", ctx, where))[0]).toMatch(
      /invalid when "facts\.cpu\.vendor == 'AMD'": .*\(when is a Handlebars expression without braces, e\.g\. "eq facts\.cpu\.vendor 'AuthenticAMD'"\)$/,
    );
  });
});

describe('loop', () => {
  test('a list, items rendered', () => {
    expect(renderLoop(['{{ nic }}', 'lo', '{{ cpu_count }}'], ctx, where)).toEqual(['ens1f0', 'lo', 8]);
  });

  test('one mustache evaluating to a list', () => {
    expect(renderLoop('{{ nics }}', ctx, where)).toEqual(['ens1f0', 'ens1f1']);
  });

  test('anything else is an error', () => {
    expect(problemsOf(() => renderLoop('{{ cpu_count }}', ctx, where))).toEqual([
      'site.yml:9:7 plays[0].tasks[1] "tune nic": loop must be a list, got 8',
    ]);
  });
});

test('adjacent numbers are text, mappings print as JSON in text', () => {
  expect(render('{{ a }}{{ b }}', { a: 8, b: 8 })).toBe('88');
  expect(render('{{#each nics}}{{ @index }}{{ @index }}{{/each}}')).toBe('0011');
  expect(render('cpu: {{ facts.cpu }}')).toBe('cpu: {"vendor":"AuthenticAMD","count":16}');
});

describe('rendering refuses prototype lookups too (templates of local files are first seen there)', () => {
  test('{{constructor}} and {{nic.constructor}} are errors, not text', () => {
    expect(problemsOf(() => render('a {{constructor}}'))[0]).toMatch(
      /"constructor" reads "constructor", a property of every JavaScript object/,
    );
    expect(problemsOf(() => render('{{nic.constructor}}'))[0]).toMatch(/a property of every JavaScript object/);
  });
});
