// Plan fixtures for the cross-checks: tasks planned by their real modules on what a host would
// return (domain XML as virsh prints it, sysctl values as /proc/sys has them), over recorded facts.

import { loadModules } from '../../../modules/index.js';
import type { Facts } from '../../../src/facts.js';
import type { CrossTask, Module, ReadResult } from '../../../src/module.js';

const modules = await loadModules();
const moduleNamed = (name: string): Module => modules.get(name)!;

export const GiB = 1024 * 1024;

/** A domain as `virsh dumpxml --inactive` prints it, with the parts the rules read. */
export function domainXml(name: string, o: { memoryGiB: number; hugepages?: boolean; numatune?: string }): string {
  return [
    `<domain type='kvm'>`,
    `  <name>${name}</name>`,
    `  <memory unit='KiB'>${o.memoryGiB * GiB}</memory>`,
    `  <currentMemory unit='KiB'>${o.memoryGiB * GiB}</currentMemory>`,
    ...(o.hugepages ? ['  <memoryBacking>', '    <hugepages/>', '  </memoryBacking>'] : []),
    `  <vcpu placement='static'>9</vcpu>`,
    ...(o.numatune ? ['  <numatune>', `    ${o.numatune}`, '  </numatune>'] : []),
    `  <os>`,
    `    <type arch='x86_64' machine='pc'>hvm</type>`,
    `  </os>`,
    `  <devices>`,
    `  </devices>`,
    `</domain>`,
  ].join('\n');
}

/** What libvirt_domain's read script prints for these shut-off domains on a host with `cpus`. */
function virshOutput(cpus: string, nodes: string, domains: Record<string, string>): ReadResult {
  const lines = ['::hvtune:: cpus', cpus, '::hvtune:: nodes', nodes, '::hvtune:: domains', ...Object.keys(domains)];
  for (const [name, xml] of Object.entries(domains)) lines.push('::hvtune:: domain', name, 'shut off', '::hvtune:: persisted', xml);
  return { kind: 'script', stdout: lines.join('\n') + '\n', stderr: '', code: 0 };
}

let line = 0;
/** A task planned by its module on the given read results, as the engine hands it to the rules. */
function planned(module: string, args: unknown, results: ReadResult[], facts: Facts, task = `${module} task`): CrossTask {
  const m = moduleNamed(module);
  const ctx = { host: facts.hostname, facts };
  const observed = m.parse(args, results, ctx);
  const { changes } = m.plan(args, observed, ctx);
  return { module, args, observed, changes, task, pos: { file: 'fixture.yml', line: ++line, column: 7 } };
}

/** A libvirt_domain task on a host whose domains have this XML. */
export function domainTask(facts: Facts, args: Record<string, unknown>, domains: Record<string, string>): CrossTask {
  const cpus = facts.cpu ? `0-${Math.max(...facts.cpu.online)}` : '0';
  const nodes = facts.numa?.nodes.length ? `0-${facts.numa.nodes.length - 1}` : '0';
  return planned('libvirt_domain', { restart: 'never', ...args }, [virshOutput(cpus, nodes, domains)], facts, 'domain');
}

/** A sysctl task on a host whose /proc/sys has `live` and no sysctl.d files. */
export function sysctlTask(facts: Facts, values: Record<string, string | number>, live: Record<string, string>): CrossTask {
  const keys = Object.keys(values);
  const results: ReadResult[] = [
    { kind: 'script', stdout: keys.map((k) => (k in live ? 'w' : '-')).join('\n') + '\n', stderr: '', code: 0 },
    ...keys.map(
      (k): ReadResult => ({ kind: 'file', path: `/proc/sys/${k.replace(/\./g, '/')}`, content: k in live ? `${live[k]}\n` : null }),
    ),
    { kind: 'file', path: '/etc/sysctl.d/90-hvtune.conf', content: null },
  ];
  const m = moduleNamed('sysctl');
  // the directory globs and /etc/sysctl.conf: nothing there
  const more = m.read({ values } as never, { host: facts.hostname, facts }).slice(results.length);
  for (const r of more)
    results.push(
      r.kind === 'glob'
        ? { kind: 'glob', pattern: r.pattern, files: {} }
        : { kind: 'file', path: (r as { path: string }).path, content: null },
    );
  return planned('sysctl', { values }, results, facts, 'sysctl');
}

/** A task whose plan the rule reads only through its arguments (grub_cmdline, sysfs), offline. */
export function argsTask(module: string, args: unknown): CrossTask {
  return { module, args, changes: [], task: module, pos: { file: 'fixture.yml', line: ++line, column: 7 } };
}
