// The same files read by Ansible and by hvtune: `ansible-inventory --list` and `hvtune inventory
// --list` must agree on hosts, groups and every host's variables (Ansible's connection variables
// compared under hvtune's names). ansible-core is installed by scripts/setup.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadInventory } from '../../../src/inventory.js';
import { sshArgs } from '../../../src/inventory.js';
import { inventoryList } from '../../../src/output/inventory.js';
import { ANSIBLE_CONNECTION_NAMES } from '../../../src/schemas/inventory.js';

const repo = join(import.meta.dirname, '../../fixtures/input/ansible-repo');
const home = mkdtempSync(join(tmpdir(), 'hvtune-ansible-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

type List = Record<string, { hosts?: string[]; children?: string[] }> & { _meta: { hostvars: Record<string, Record<string, unknown>> } };

function ansibleList(args: string[]): List {
  const out = execFileSync('ansible-inventory', [...args, '--list'], {
    cwd: repo,
    env: { ...process.env, ANSIBLE_HOME: home, ANSIBLE_LOCAL_TEMP: home, ANSIBLE_NOCOLOR: '1' },
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

/** Ansible's variables of a host under hvtune's names and types (INI strings typed, ProxyJump a jump). */
function asHvtune(vars: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(vars)) {
    if (key === 'ansible_ssh_common_args') {
      out.jump = sshArgs(String(value)).jump;
      continue;
    }
    const ours = ANSIBLE_CONNECTION_NAMES[key];
    if (!ours) out[key] = value;
    else if (ours === 'port') out.port = Number(value);
    else if (ours === 'become') out.become = value === true || /^(yes|true|on|1)$/i.test(String(value));
    else out[ours] = value;
  }
  return out;
}

describe('hvtune inventory --list agrees with ansible-inventory --list', () => {
  const ansible = ansibleList(['-i', 'inventory', '--playbook-dir', 'playbooks']);
  const ours = inventoryList(loadInventory(join(repo, 'inventory'), {}, { playbookDir: join(repo, 'playbooks'), sshConfig: null })) as List;

  test('the same groups, each with the same hosts and children', () => {
    const groups = (l: List) =>
      Object.fromEntries(
        Object.entries(l)
          .filter(([k]) => k !== '_meta')
          .map(([k, v]) => [k, { hosts: [...(v.hosts ?? [])].sort(), children: [...(v.children ?? [])].sort() }]),
      );
    expect(groups(ours)).toEqual(groups(ansible));
  });

  test("every host's variables: Ansible's under hvtune's names, and nothing else but the connection defaults", () => {
    expect(Object.keys(ours._meta.hostvars).sort()).toEqual(Object.keys(ansible._meta.hostvars).sort());
    const connection = new Set(['address', 'port', 'user', 'become', 'identity_file', 'jump']);
    for (const [host, theirs] of Object.entries(ansible._meta.hostvars)) {
      const expected = asHvtune(theirs);
      const mine = ours._meta.hostvars[host];
      for (const [key, value] of Object.entries(expected)) expect([host, key, mine[key]]).toEqual([host, key, value]);
      const extra = Object.keys(mine).filter((k) => !(k in expected) && !connection.has(k));
      expect([host, extra]).toEqual([host, []]);
    }
  });
});
