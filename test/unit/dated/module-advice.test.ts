// Module.advise: the generic rules read any argument's text; a module changes what they found in
// its own argument shapes. With the real registry, and with a registry made up for the contract.

import { beforeAll, describe, expect, it } from 'vitest';
import { loadModules } from '../../../modules/index.js';
import { datedAdvice, TCP_TW_RECYCLE } from '../../../src/dated.js';
import { formatProblem } from '../../../src/errors.js';
import type { Advice, ArgLeaf } from '../../../src/module.js';
import { parsePlaybook, type ModuleRegistry } from '../../../src/playbook.js';

let modules: ModuleRegistry;
beforeAll(async () => {
  modules = await loadModules();
});

const play = (tasks: string) => `- hosts: all\n  tasks:\n${tasks}`;
const lines = (tasks: string, registry = modules) => datedAdvice(parsePlaybook(play(tasks), 'site.yml', registry)).map(formatProblem);

describe('the modules of the registry', () => {
  it('a task that removes what it names gives no advice (file, modprobe, mount)', () => {
    expect(
      lines(`    - file: {path: /etc/default/qemu-kvm, state: absent}
    - modprobe: {module: tcp_tw_recycle, state: absent}
    - mount: {path: /mnt/KVM_HUGEPAGES, state: absent}
`),
    ).toEqual([]);
  });

  it('the file /etc/default/qemu-kvm is dated whatever the file module writes into it', () => {
    expect(lines('    - file: {path: /etc/default/qemu-kvm, content: "# empty\\n"}\n')).toEqual([
      expect.stringMatching(/^site\.yml:3:14 plays\[0\]\.tasks\[0\]\.file\.path: \/etc\/default\/qemu-kvm KVM_HUGEPAGES is obsolete/),
    ]);
  });

  it('modprobe max_vfs names the sriov module that replaces it; other options give no advice', () => {
    expect(lines('    - modprobe: {module: igb, options: {max_vfs: 7}}\n')).toEqual([
      expect.stringMatching(
        /^site\.yml:3:41 plays\[0\]\.tasks\[0\]\.modprobe\.options\.max_vfs: the max_vfs module option .* use the sriov module/,
      ),
    ]);
    expect(lines('    - modprobe: {module: igb, options: {RSS: 4}}\n')).toEqual([]);
  });

  it('a module without a hook keeps what the generic rules found', () => {
    expect(lines('    - service: {name: tcp_tw_recycle, state: started}\n')).toEqual([
      expect.stringContaining('service.name: net.ipv4.tcp_tw_recycle was removed'),
    ]);
  });
});

describe('the contract, with a made-up module', () => {
  const seen: { leaf: ArgLeaf; generic: Advice[] }[] = [];
  const registry: ModuleRegistry = new Map([
    [
      'demo',
      {
        schema: { type: 'object', additionalProperties: false, properties: { knob: { type: 'string' }, note: { type: 'string' } } },
        advise(leaf: ArgLeaf, args: { knob?: string }, generic: Advice[]): Advice[] {
          seen.push({ leaf, generic });
          if (leaf.path[0] === 'note') return [];
          return leaf.path[0] === 'knob' && !leaf.isKey && args.knob?.startsWith('old')
            ? [{ id: 'demo-old', message: 'the old knob is gone' }, ...generic]
            : generic;
        },
      },
    ],
  ]);

  it('is asked for every key and value with what the generic rules found, and decides; its own advice comes after the known rules', () => {
    expect(lines('    - demo: {knob: new, note: tcp_tw_recycle}\n', registry)).toEqual([]);
    expect(seen.find((s) => s.leaf.path.join() === 'note' && !s.leaf.isKey)?.generic).toEqual([TCP_TW_RECYCLE]);
    expect(lines('    - demo: {knob: old}\n', registry)).toEqual(['site.yml:3:14 plays[0].tasks[0].demo.knob: the old knob is gone']);
    const both = datedAdvice(parsePlaybook(play('    - demo: {knob: "old tcp_tw_recycle"}\n'), 'site.yml', registry));
    expect(both.map((p) => p.message)).toEqual([TCP_TW_RECYCLE.message, 'the old knob is gone']);
  });
});
