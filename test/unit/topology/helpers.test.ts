// The helpers as playbooks call them: through a real Handlebars instance.

import Handlebars from 'handlebars';
import { describe, expect, it } from 'vitest';
import { renderValue } from '../../../src/template.js';
import { topologyHelpers } from '../../../src/topology.js';
import { recorded } from './load.js';

const hb = Handlebars.create();
hb.registerHelper(topologyHelpers);
const facts = recorded('seed003-2s10c-ht');
const render = (template: string, vars: Record<string, unknown> = {}) =>
  hb.compile(template, { noEscape: true, strict: true })({ facts, ...vars });

describe('topology helpers in templates', () => {
  it.each([
    ['{{cpu_range (node_cpus facts 1)}}', '10-19,30-39'],
    ['{{nic_node facts "ens1f0"}}', '0'],
    ['{{cpu_range (node_cpus_reserved facts 0 1)}}', '1-9,21-29'],
    ['{{cpu_range (one_thread_per_core facts (node_cpus_reserved facts 1 1))}}', '11-19'],
    ['{{cpu_range (one_thread_per_core facts "0-39")}}', '0-19'],
    ['{{clamp 12 1 8}}', '8'],
    ['{{cpu_range (node_cpus facts (nic_node facts nic))}}', '0-9,20-29'],
  ])('%s → %s', (template, out) => expect(render(template, { nic: 'ens1f0' })).toBe(out));

  it('computes queues = vCPUs within the NIC limit (seed 003: 9 vCPUs, queues 4-9)', () => {
    expect(render('{{clamp vcpus 1 facts.nics.[0].channels.maxCombined}}', { vcpus: 48 })).toBe('40');
  });

  it('pin_vm returns the pinning object (the template engine keeps a lone mustache typed)', () => {
    const options = { hash: {}, data: {}, name: 'pin_vm' };
    expect(topologyHelpers.pin_vm(facts, 0, 9, 1, options)).toEqual({
      vcpupin: { 0: '1', 1: '2', 2: '3', 3: '4', 4: '5', 5: '6', 6: '7', 7: '8', 8: '9' },
      emulatorpin: '11-19',
    });
    expect(topologyHelpers.pin_vm(facts, 0, 2, 1, { hash: { emulator: 'same' }, data: {} })).toEqual({
      vcpupin: { 0: '1', 1: '2' },
      emulatorpin: '3-9',
    });
  });

  it('pin_vm parts can be rendered inside a template', () => {
    expect(render('{{#with (pin_vm facts 0 3 1)}}{{vcpupin.[2]}} {{emulatorpin}}{{/with}}')).toBe('3 11-19');
    expect(render('{{#with (pin_vm facts 0 3 1 emulator=0)}}{{emulatorpin}}{{/with}}')).toBe('1-9');
  });

  it.each([
    ['{{node_cpus facts}}', 'node_cpus: expected node_cpus facts NODE, got 1 argument(s)'],
    ['{{node_cpus "x" 0}}', "node_cpus: the first argument must be the host's facts"],
    ['{{node_cpus facts "zero"}}', 'node_cpus node: expected a whole number, got "zero"'],
    ['{{cpu_range "1-x"}}', 'not a CPU list: "1-x"'],
    ['{{pin_vm facts 0}}', 'pin_vm: expected pin_vm facts NODE VCPUS [RESERVE] [EMULATOR]'],
    ['{{clamp 1 "a" 3}}', 'clamp low bound: expected a number, got "a"'],
  ])('%s fails with a clear message', (template, message) => {
    expect(() => render(template)).toThrow(message);
  });
});

describe('through the template engine (src/template.ts), which installs them itself', () => {
  const where = {
    task: 'pin web1',
    path: 'plays[0].tasks[0].libvirt_domain.cputune',
    pos: { file: 'numa-pinning.yml', line: 9, column: 7 },
  };
  const ctx = { facts, nic: 'ens1f0', vcpus: 9 };

  it('a lone pin_vm mustache stays the pinning object', () => {
    expect(renderValue({ cputune: '{{pin_vm facts (nic_node facts nic) vcpus 1}}' }, ctx, where)).toEqual({
      cputune: {
        vcpupin: { 0: '1', 1: '2', 2: '3', 3: '4', 4: '5', 5: '6', 6: '7', 7: '8', 8: '9' },
        emulatorpin: '11-19',
      },
    });
  });

  it('typed values: a node number, a CPU array, a range string', () => {
    expect(
      renderValue(['{{nic_node facts nic}}', '{{node_cpus_reserved facts 1 9}}', '{{cpu_range (node_cpus facts 0)}}'], ctx, where),
    ).toEqual([0, [19, 39], '0-9,20-29']);
  });

  it('emulator placement as a fifth argument', () => {
    expect(renderValue('{{pin_vm facts 0 2 1 "same"}}', ctx, where)).toEqual({ vcpupin: { 0: '1', 1: '2' }, emulatorpin: '3-9' });
  });

  it('a helper error reaches the user with the task named', () => {
    expect(() => renderValue('{{node_cpus facts 7}}', ctx, where)).toThrow(
      /numa-pinning.yml:9:7.*zs-compute1 has no NUMA node 7 \(nodes: 0, 1\)/s,
    );
  });
});
