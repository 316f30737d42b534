// Ansible's flags on `hvtune play`, and every numeric flag checked: what is printed, the exit code,
// and that nothing connected. The inventory's hosts point at a TCP listener of this test that
// counts connections, so "without connecting" is observed, not assumed.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIO } from '../../../src/cli.js';

async function cli(args: string[], more: Partial<CliIO> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: (s) => out.push(s), stderr: (s) => err.push(s), tty: false, ...more });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const dir = mkdtempSync(join(tmpdir(), 'hvtune-flags-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

let server: Server;
let connections = 0;
let inventory: string;
beforeAll(async () => {
  server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  inventory = file(
    'inv.yml',
    `all:
  children:
    kvm_hosts:
      hosts:
        hv1: { address: 127.0.0.1, port: ${port} }
        hv2: { address: 127.0.0.1, port: ${port} }
    xen_hosts:
      hosts:
        xs1: { address: 127.0.0.1, port: ${port} }
`,
  );
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const playbook = () =>
  file(
    'site.yml',
    `- name: tcp
  hosts: kvm_hosts
  tags: [net]
  tasks:
    - name: buffers
      sysctl: { values: { net.ipv4.tcp_rmem: "4096 87380 33554432" } }
      tags: [tcp]
    - name: debug dump
      command: { argv: ["true"] }
      tags: [never, debug]
    - name: always there
      command: { argv: ["true"] }
      tags: [always]
- name: xen
  hosts: xen_hosts
  tasks:
    - name: somaxconn
      sysctl: { values: { net.core.somaxconn: 1024 } }
`,
  );

describe('listing without connecting', () => {
  it('--list-hosts: each play, its pattern and hosts in inventory order, exit 0', async () => {
    const book = playbook();
    const r = await cli(['play', book, '-i', inventory, '--list-hosts']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        `playbook: ${book}`,
        '',
        '  play #1 (kvm_hosts): tcp\tTAGS: [net]',
        "    pattern: ['kvm_hosts']",
        '    hosts (2):',
        '      hv1',
        '      hv2',
        '',
        '  play #2 (xen_hosts): xen\tTAGS: []',
        "    pattern: ['xen_hosts']",
        '    hosts (1):',
        '      xs1',
      ].join('\n'),
    );
    expect(connections).toBe(0);
  });

  it('--list-hosts follows --limit and --shard', async () => {
    const r = await cli(['play', playbook(), '-i', inventory, '--list-hosts', '--limit', 'hv2']);
    expect(r.stdout).toMatch(/hosts \(1\):\n {6}hv2\n/);
    expect(r.stdout).toMatch(/hosts \(0\):$/);
    const listed = async (shard: string) => {
      const s = await cli(['play', playbook(), '-i', inventory, '--list-hosts', '--shard', shard]);
      return s.stdout.split('\n').filter((l) => /^ {6}\S/.test(l));
    };
    const [one, two] = [await listed('1/2'), await listed('2/2')];
    expect([...one, ...two].map((l) => l.trim()).sort()).toEqual(['hv1', 'hv2', 'xs1']);
  });

  it('--list-tasks: a task tagged never is left out unless --tags names one of its tags', async () => {
    const plain = await cli(['play', playbook(), '-i', inventory, '--list-tasks']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('    tasks:\n      buffers\tTAGS: [net, tcp]\n      always there\tTAGS: [always, net]\n');
    expect(plain.stdout).not.toContain('debug dump');

    const all = await cli(['play', playbook(), '-i', inventory, '--list-tasks', '--tags', 'all']);
    expect(all.stdout).not.toContain('debug dump');

    const asked = await cli(['play', playbook(), '-i', inventory, '--list-tasks', '--tags', 'debug']);
    expect(asked.stdout).toContain('      debug dump\tTAGS: [debug, net, never]\n      always there');
    expect(asked.stdout).not.toContain('buffers');
    expect(connections).toBe(0);
  });

  it('--list-tags: each play with the tags of its tasks', async () => {
    const r = await cli(['play', playbook(), '-i', inventory, '--list-tags']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  play #1 (kvm_hosts): tcp\tTAGS: [net]\n      TASK TAGS: [always, net, tcp]');
    expect(r.stdout).toContain('  play #2 (xen_hosts): xen\tTAGS: []\n      TASK TAGS: []');
  });

  it('--syntax-check: valid input exits 0; invalid input names file:line:column and exits 1', async () => {
    const good = await cli(['play', playbook(), '-i', inventory, '--syntax-check']);
    expect(good.code, good.stderr).toBe(0);
    const bad = file('bad.yml', '- name: x\n  hosts: all\n  tasks:\n    - name: t\n      sysctl: { valuez: {} }\n');
    const r = await cli(['play', bad, '-i', inventory, '--syntax-check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yml:5:\d+/);
    expect(connections).toBe(0);
  });
});

describe('flags refused before connecting', () => {
  it('--tags nosuch: an error naming the tags the playbook has', async () => {
    const r = await cli(['play', playbook(), '-i', inventory, '--check', '--tags', 'nosuch']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: --tags nosuch: no play or task of the playbook has this tag; known tags: always, debug, net, never, tcp');
    expect(connections).toBe(0);
  });

  it.each([
    [['--timeout', 'abc'], "option '--timeout <seconds>' argument 'abc' is invalid. expected a number of seconds above 0"],
    [['--timeout', '0'], 'expected a number of seconds above 0'],
    [['-f', '0'], "option '-f, --forks <n>' argument '0' is invalid. expected a whole number of hosts, at least 1"],
    [['--forks', '1.5'], 'expected a whole number of hosts, at least 1'],
    [['-u', 'root;reboot'], 'expected a user name'],
  ])('%j: a clear error, exit 1', async (flags, message) => {
    const r = await cli(['play', playbook(), '-i', inventory, '--check', ...flags]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(connections).toBe(0);
  });

  it('demo --hosts takes a whole number too', async () => {
    const r = await cli(['demo', '--hosts', 'many']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("option '--hosts <n>' argument 'many' is invalid. expected a whole number of hosts, at least 1");
  });

  it('-K where nobody can answer: an error before connecting; an empty answer too', async () => {
    const none = await cli(['play', playbook(), '-i', inventory, '--check', '-K']);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('error: -K: no terminal to ask the become password on');
    let asked = 0;
    const empty = await cli(['play', playbook(), '-i', inventory, '--check', '-K'], {
      askSecret: async (prompt) => {
        asked++;
        expect(prompt).toBe('BECOME password: ');
        return '';
      },
    });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toBe('error: -K: no password given');
    expect(asked).toBe(1);
    expect(connections).toBe(0);
  });
});

describe('the program', () => {
  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`hvtune ${version}`);
  });

  it('a reader that goes away (hvtune … | head) ends the output quietly: no stack trace, exit 0', async () => {
    // output larger than a pipe holds (3000 hosts' variables), and a reader that closes its end
    // after the first chunk, as head does after its lines
    const hosts = `${Array.from({ length: 3000 }, (_, i) => `host${i}`).join(',')},`;
    const child = spawn(process.execPath, ['bin/hvtune.js', 'inventory', '--list', '-i', hosts], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
