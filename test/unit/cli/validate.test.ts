// `hvtune validate`, `modules`, `doc`: no host is contacted, so these run without a lab.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.js';

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: (s) => out.push(s), stderr: (s) => err.push(s), tty: false });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const dir = mkdtempSync(join(tmpdir(), 'hvtune-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const inventory = file('inv.yml', 'all:\n  hosts:\n    hv1: { address: 192.0.2.1 }\n');

describe('hvtune validate', () => {
  it('accepts the example playbooks with the example inventory', async () => {
    const r = await cli(['validate', 'playbooks/tcp-tuning.yml', '-i', 'inventory/example.yml']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 play\(s\), 4 task\(s\), 4 host\(s\): valid/);
  });

  it('warns on dated advice with file:line:column, and still exits 0', async () => {
    const book = file(
      'dated.yml',
      `- name: seed 004 as written
  hosts: all
  tasks:
    - name: recycle
      sysctl:
        values:
          net.ipv4.tcp_tw_recycle: 1
    - name: elevator
      grub_cmdline: { present: [elevator=deadline] }
`,
    );
    const r = await cli(['validate', book, '-i', inventory]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/dated\.yml:7:\d+ .*tcp_tw_recycle.*4\.12/);
    expect(r.stderr).toMatch(/dated\.yml:9:\d+ .*elevator/);
  });

  it('reports every problem of playbook and inventory at once, exit 1', async () => {
    const badInv = file('bad-inv.yml', 'all:\n  hosts:\n    hv1: { port: twenty-two }\n');
    const book = file(
      'bad.yml',
      '- name: x\n  hosts: all\n  tasks:\n    - name: t\n      sysctl: { values: { net.core.somaxconn: [1, x] } }\n',
    );
    const r = await cli(['validate', book, '-i', badInv]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad-inv\.yml:3:\d+ .*port: must be an integer/);
    expect(r.stderr).toMatch(/bad\.yml:5:\d+ /);
  });
});

describe('hvtune modules and doc', () => {
  it('lists every module and documents one from its schema', async () => {
    const list = await cli(['modules']);
    for (const m of [
      'sysctl',
      'grub_cmdline',
      'modprobe',
      'sysfs',
      'service',
      'file',
      'lineinfile',
      'mount',
      'ethtool',
      'libvirt_domain',
      'xenserver_vif',
      'sriov',
    ]) {
      expect(list.stdout).toMatch(new RegExp(`^${m} `, 'm'));
    }
    const doc = await cli(['doc', 'sysctl']);
    expect(doc.code).toBe(0);
    expect(doc.stdout).toMatch(/= values/);
    expect(doc.stdout).toMatch(/- file/);
    const sriov = await cli(['doc', 'sriov']);
    expect(sriov.code).toBe(0);
    expect(sriov.stdout).toMatch(/= device/);
    expect(sriov.stdout).toMatch(/= numvfs/);
    const unknown = await cli(['doc', 'sysctll']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/did you mean sysctl/);
  });
});
