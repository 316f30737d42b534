// `hvtune validate --facts`: the shipped playbooks together, judged by the cross-checks on the
// recorded facts of seed 003's machine with the seed's VM defined on it (16 GiB, 9 vCPUs).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdirSync } from 'node:fs';
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

const dir = mkdtempSync(join(tmpdir(), 'hvtune-validate-cross-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const recorded = JSON.parse(readFileSync('test/fixtures/facts/seed003-2s10c-ht.json', 'utf8'));
const seedHost = recorded.hosts['zs-compute1'];
const seedVm = { name: 'vm1', state: 'shut off', vcpus: 9, maxVcpus: 128, memoryKiB: 16 * 1048576, maxMemoryKiB: 16 * 1048576 };
const facts = file('seed003.json', JSON.stringify({ hosts: { 'zs-compute1': { ...seedHost, domains: [seedVm] } } }));
const inventory = file('inv.yml', 'all:\n  children:\n    kvm_hosts:\n      hosts:\n        zs-compute1: { address: 192.0.2.10 }\n');
const playbooks = readdirSync('playbooks')
  .filter((f) => f.endsWith('.yml'))
  .map((f) => `playbooks/${f}`);

describe('hvtune validate --facts: cross-checks offline', () => {
  it('the shipped playbooks together plan with no contradiction on seed 003 (exit 0)', async () => {
    const r = await cli(['validate', ...playbooks, '-i', inventory, '--facts', facts]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cross-checks on .*seed003\.json: 1 host\(s\), 5 rule\(s\) run: 0 error\(s\), 0 warning\(s\)/);
    // the memory of the seed's VM is known: these rules judged it
    expect(r.stdout).not.toMatch(/\[numatune-hugepages\]|\[memtune-hard-limit\]/);
    expect(r.stdout).toMatch(/skipped for lack of a host .*sysctl-max-lowered/);
  });

  it('a hard limit below the VM memory is an error at its task, exit 1', async () => {
    const r = await cli(['validate', ...playbooks, '-i', inventory, '--facts', facts, '-e', 'vm_memory_hard_limit=2GiB']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /profiles\/memory-and-disk\.yml:\d+:\d+: zs-compute1: error \[memtune-hard-limit\] .*memtune hard_limit 2 GiB on domain vm1 is below its memory of 16 GiB/,
    );
  });

  it('the pool the playbook had before (hugepages=16, one share per node) trips numatune strict on node 0', async () => {
    const r = await cli(['validate', ...playbooks, '-i', inventory, '--facts', facts, '-e', 'hugepage_nodes=1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /numa-pinning\.yml:\d+:\d+: zs-compute1: error \[numatune-hugepages\] .*numatune strict node 0 needs 16 GiB of 1G pages on node 0 \(domain vm1\); the boot pool \(hugepages=16, split over 2 nodes\) gives node 0 8 GiB/,
    );
  });

  it('says which rules could not judge without the VM in the facts', async () => {
    const bare = file('bare.json', JSON.stringify(recorded));
    const r = await cli(['validate', ...playbooks, '-i', inventory, '--facts', bare]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/not judged, unknown offline: zs-compute1: \[numatune-hugepages\] the memory of domain vm1/);
  });
});
