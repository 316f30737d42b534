import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadRequest } from '../../../src/module.js';
import { sh } from '../../../src/quote.js';
import { batchCommandLine, buildReadScript, newNonce, parseReadOutput } from '../../../src/transport/batch.js';

let dir: string;
const SHELLS = ['/bin/dash', '/bin/bash'] as const;

/** Run a batch with the given shell as the batch's clean shell runs it: the script as an argument. */
function runIn(requests: ReadRequest[], shell: string = SHELLS[0], env: NodeJS.ProcessEnv = { PATH: process.env.PATH }) {
  const nonce = newNonce();
  const script = buildReadScript(requests, nonce);
  const out = spawnSync(shell, ['-c', script], { cwd: dir, encoding: 'utf8', env });
  return { out, results: parseReadOutput(out.stdout, requests, nonce, out.stderr), nonce };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hvtune-batch-'));
  writeFileSync(join(dir, 'no-newline'), 'vm.swappiness = 10');
  writeFileSync(join(dir, 'empty'), '');
  writeFileSync(join(dir, 'blank-lines'), '\n\n\n');
  writeFileSync(join(dir, 'utf8'), 'intel_iommu=on # 内核参数 ✓\n');
  writeFileSync(join(dir, "sp ace 'quote' $x"), 'odd name\n');
  mkdirSync(join(dir, 'sysctl.d'));
  writeFileSync(join(dir, 'sysctl.d', '90-b.conf'), 'b=2\n');
  writeFileSync(join(dir, 'sysctl.d', '10-a.conf'), 'a=1');
  mkdirSync(join(dir, 'sysctl.d', 'dir.conf'));
  mkdirSync(join(dir, 'empty.d'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(SHELLS)('batched reads run by %s', (shell) => {
  const runBatch = (requests: ReadRequest[], env?: NodeJS.ProcessEnv) => runIn(requests, shell, env);
  it('returns exact bytes: no trailing newline, empty, blank lines, UTF-8, odd names', () => {
    const paths = ['no-newline', 'empty', 'blank-lines', 'utf8', "sp ace 'quote' $x"].map((p) => join(dir, p));
    const { results } = runBatch(paths.map((path) => ({ kind: 'file', path })));
    expect(results.map((r) => (r.kind === 'file' ? r.content : undefined))).toEqual([
      'vm.swappiness = 10',
      '',
      '\n\n\n',
      'intel_iommu=on # 内核参数 ✓\n',
      'odd name\n',
    ]);
  });

  it('reads kernel files whole: a sysctl file read past offset 0 says end of file', () => {
    // Reading is harmless; these are the machine's own values, compared with Node's read.
    const paths = ['/proc/sys/kernel/ostype', '/proc/sys/net/ipv4/tcp_rmem', '/proc/sys/kernel/pid_max'];
    const { results } = runBatch(paths.map((path) => ({ kind: 'file', path })));
    expect(results.map((r) => (r.kind === 'file' ? r.content : undefined))).toEqual(
      paths.map((p) => execFileSync('cat', [p], { encoding: 'utf8' })),
    );
  });

  it('starts no process to read regular files and globs (and, in bash, kernel files)', () => {
    // With an empty PATH no program can start: the reads must be done by shell builtins alone.
    const requests: ReadRequest[] = [
      { kind: 'file', path: join(dir, 'no-newline') },
      { kind: 'file', path: join(dir, 'utf8') },
      { kind: 'glob', pattern: `${dir}/sysctl.d/*.conf` },
    ];
    if (shell === '/bin/bash') requests.push({ kind: 'file', path: '/proc/sys/net/ipv4/tcp_rmem' });
    const { results } = runBatch(requests, { PATH: '' });
    expect(results.slice(3)).toEqual(
      shell === '/bin/bash'
        ? [
            {
              kind: 'file',
              path: '/proc/sys/net/ipv4/tcp_rmem',
              content: execFileSync('cat', ['/proc/sys/net/ipv4/tcp_rmem'], { encoding: 'utf8' }),
            },
          ]
        : [],
    );
    expect(results.slice(0, 3)).toEqual([
      { kind: 'file', path: join(dir, 'no-newline'), content: 'vm.swappiness = 10' },
      { kind: 'file', path: join(dir, 'utf8'), content: 'intel_iommu=on # 内核参数 ✓\n' },
      {
        kind: 'glob',
        pattern: `${dir}/sysctl.d/*.conf`,
        files: { [join(dir, 'sysctl.d', '10-a.conf')]: 'a=1', [join(dir, 'sysctl.d', '90-b.conf')]: 'b=2\n' },
      },
    ]);
  });

  it('returns null for an absent file and keeps the order of requests', () => {
    const { results } = runBatch([
      { kind: 'file', path: join(dir, 'absent') },
      { kind: 'file', path: join(dir, 'empty') },
    ]);
    expect(results).toEqual([
      { kind: 'file', path: join(dir, 'absent'), content: null },
      { kind: 'file', path: join(dir, 'empty'), content: '' },
    ]);
  });

  it('keeps content that imitates the delimiters of another batch', () => {
    const other = newNonce();
    const fake = `x\n@${other}@ 0 absent\n@${other}@ done\n\n@hvt@ 1 file\n`;
    writeFileSync(join(dir, 'fake'), fake);
    const { results } = runBatch([
      { kind: 'file', path: join(dir, 'fake') },
      { kind: 'file', path: join(dir, 'absent') },
    ]);
    expect(results[0]).toMatchObject({ content: fake });
    expect(results[1]).toMatchObject({ content: null });
  });

  it('reads a glob as path → content for regular files only, sorted; no match is empty', () => {
    const { results } = runBatch([
      { kind: 'glob', pattern: `${dir}/sysctl.d/*.conf` },
      { kind: 'glob', pattern: `${dir}/empty.d/*.conf` },
    ]);
    expect(results[0]).toEqual({
      kind: 'glob',
      pattern: `${dir}/sysctl.d/*.conf`,
      files: { [`${dir}/sysctl.d/10-a.conf`]: 'a=1', [`${dir}/sysctl.d/90-b.conf`]: 'b=2\n' },
    });
    expect(Object.keys((results[0] as { files: object }).files)).toEqual([`${dir}/sysctl.d/10-a.conf`, `${dir}/sysctl.d/90-b.conf`]);
    expect(results[1]).toEqual({ kind: 'glob', pattern: `${dir}/empty.d/*.conf`, files: {} });
  });

  it('keeps stdout, stderr and exit code of commands apart, failures included', () => {
    const { results } = runBatch([
      { kind: 'cmd', argv: ['sh', '-c', 'printf out; printf err >&2; exit 3'] },
      { kind: 'cmd', argv: ['cat', join(dir, 'absent')] },
      { kind: 'cmd', argv: ['printf', '%s', "it's $HOME `x`"] },
      { kind: 'script', script: sh`printf '%s\n' ${'a b'}; cat` },
      { kind: 'cmd', argv: ['hvtune-no-such-command'] },
    ]);
    expect(results[0]).toEqual({ kind: 'cmd', stdout: 'out', stderr: 'err', code: 3, signal: null });
    expect(results[1]).toMatchObject({ stdout: '', code: 1 });
    expect((results[1] as { stderr: string }).stderr).toContain('No such file');
    expect(results[2]).toMatchObject({ stdout: "it's $HOME `x`", stderr: '', code: 0 });
    // `cat` reads /dev/null, not the rest of the batch arriving on stdin.
    expect(results[3]).toEqual({ kind: 'script', stdout: 'a b\n', stderr: '', code: 0, signal: null });
    expect(results[4]).toMatchObject({ code: 127 });
  });

  it('runs a command as the only process of its request, with no temp file', () => {
    // `exit` is a shell builtin: in the batch's own shell it would end the batch
    const { results } = runBatch([
      { kind: 'cmd', argv: ['exit', '4'] },
      { kind: 'script', script: 'echo $$ $PPID' },
    ]);
    expect(results[0]).toMatchObject({ code: 4 });
    expect(results[1]).toMatchObject({ code: 0 });
    const traced = spawnSync(
      'strace',
      [
        '-f',
        '-qq',
        '-e',
        'trace=clone,clone3,vfork,fork',
        shell,
        '-c',
        buildReadScript(
          [
            { kind: 'cmd', argv: ['true'] },
            { kind: 'script', script: 'true' },
          ],
          newNonce(),
        ),
      ],
      { encoding: 'utf8' },
    );
    if (traced.error) return; // strace is not installed: the count is checked on the lab hosts
    expect(traced.stderr.match(/^(\[pid +\d+\] )?(clone|clone3|vfork|fork)\(/gm)).toHaveLength(2);
  });

  it('reports a kernel file that fails to read, instead of an empty value', () => {
    // lo has no link speed: reading the attribute fails with EINVAL
    expect(() => runBatch([{ kind: 'file', path: '/sys/class/net/lo/speed' }])).toThrow(
      /cannot read \/sys\/class\/net\/lo\/speed: .*Invalid argument/,
    );
  });

  it('fails naming the file it cannot read, instead of returning partial content', () => {
    if (process.getuid?.() === 0) {
      // root reads everything: a directory is the unreadable file here.
      expect(() => runBatch([{ kind: 'file', path: join(dir, 'sysctl.d') }])).toThrow(/cannot read .*sysctl\.d: .*directory/i);
    } else {
      writeFileSync(join(dir, 'secret'), 'x');
      chmodSync(join(dir, 'secret'), 0);
      expect(() => runBatch([{ kind: 'file', path: join(dir, 'secret') }])).toThrow(/cannot read .*secret/);
    }
  });

  it('ignores noise a login shell prints before the script and detects truncated output', () => {
    const requests: ReadRequest[] = [{ kind: 'file', path: join(dir, 'no-newline') }];
    const nonce = newNonce();
    const run = spawnSync(shell, ['-c', buildReadScript(requests, nonce)], { encoding: 'utf8' });
    const out = run.stdout;
    expect(parseReadOutput('Welcome!\n' + out, requests, nonce, 'motd\n' + run.stderr)).toEqual([
      { kind: 'file', path: join(dir, 'no-newline'), content: 'vm.swappiness = 10' },
    ]);
    expect(() => parseReadOutput(out.slice(0, out.lastIndexOf(`@${nonce}@ done`)), requests, nonce)).toThrow(/incomplete/);
  });

  it('uses nothing dash would reject', () => {
    const script = buildReadScript(
      [
        { kind: 'file', path: '/x' },
        { kind: 'glob', pattern: '/etc/*.conf' },
        { kind: 'cmd', argv: ['true'] },
      ],
      newNonce(),
    );
    expect(spawnSync('/bin/dash', ['-n'], { input: script }).status).toBe(0);
    expect(script).not.toMatch(/\[\[|\$'|\bfunction\b|<<<|\blocal\b/);
  });

  it('rejects a nonce that could break the script', () => {
    expect(() => buildReadScript([], 'a; rm -rf /')).toThrow(/nonce/);
  });
});

describe('the command line that starts a batch', () => {
  const requests: ReadRequest[] = [
    { kind: 'file', path: '/proc/sys/net/ipv4/tcp_rmem' },
    { kind: 'cmd', argv: ['printf', '%s', "it's"] },
  ];
  const run = (line: string, stdin: string | undefined, env: NodeJS.ProcessEnv) =>
    spawnSync('/bin/dash', ['-c', line], { input: stdin ?? '', encoding: 'utf8', env });

  it('execs bash without rc files or BASH_ENV, and reads the script as an argument', () => {
    const nonce = newNonce();
    const { line, stdin } = batchCommandLine(buildReadScript(requests, nonce));
    expect(stdin).toBeUndefined();
    writeFileSync(join(dir, 'bash-env'), 'echo BASH_ENV ran; exit 9\n');
    const out = run(line, stdin, { PATH: process.env.PATH, BASH_ENV: join(dir, 'bash-env') });
    expect(out.stdout).not.toContain('BASH_ENV ran');
    expect(parseReadOutput(out.stdout, requests, nonce, out.stderr)).toEqual([
      {
        kind: 'file',
        path: '/proc/sys/net/ipv4/tcp_rmem',
        content: execFileSync('cat', ['/proc/sys/net/ipv4/tcp_rmem'], { encoding: 'utf8' }),
      },
      { kind: 'cmd', stdout: "it's", stderr: '', code: 0, signal: null },
    ]);
  });

  it('falls back to sh without bash, and to stdin for a script too large for an argument', () => {
    const bin = join(dir, 'no-bash-bin');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['sh', 'cat', 'printf'])
      execFileSync('ln', ['-sf', execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), join(bin, tool)]);
    const big: ReadRequest[] = [...requests, { kind: 'script', script: `: '${'x'.repeat(70 * 1024)}'\necho big` }];
    const nonce = newNonce();
    const { line, stdin } = batchCommandLine(buildReadScript(big, nonce));
    expect(stdin).toBeDefined();
    const out = run(line, stdin, { PATH: bin });
    expect(parseReadOutput(out.stdout, big, nonce, out.stderr)).toMatchObject([
      { content: execFileSync('cat', ['/proc/sys/net/ipv4/tcp_rmem'], { encoding: 'utf8' }) },
      { stdout: "it's", code: 0 },
      { stdout: 'big\n', code: 0 },
    ]);
  });
});

describe.each(SHELLS)('stat requests run by %s', (shell) => {
  it('give type, emptiness, mode and owners of every path with one stat process', () => {
    const base = mkdtempSync(join(tmpdir(), 'hvtune-stat-'));
    try {
      writeFileSync(join(base, 'f'), 'x');
      chmodSync(join(base, 'f'), 0o640);
      mkdirSync(join(base, 'empty'));
      mkdirSync(join(base, 'full'));
      writeFileSync(join(base, 'full', '.hidden'), '');
      execFileSync('ln', ['-s', 'f', join(base, 'link')]);
      writeFileSync(join(base, 'new\nline'), 'y');
      for (const [name, mode] of [
        ['empty', 0o755],
        ['full', 0o755],
        ['new\nline', 0o644],
      ] as const)
        chmodSync(join(base, name), mode);
      const paths = ['f', 'empty', 'full', 'link', 'absent', 'new\nline', 'f'].map((p) => join(base, p));
      const requests: ReadRequest[] = paths.map((path) => ({ kind: 'stat', path }));
      const nonce = newNonce();
      const script = buildReadScript(requests, nonce);
      const traced = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve', shell, '-c', script], { encoding: 'utf8' });
      const out = traced.error ? spawnSync(shell, ['-c', script], { encoding: 'utf8' }) : traced;
      if (!traced.error) expect(traced.stderr.match(/execve\("[^"]*stat"/g)).toHaveLength(1);
      const results = parseReadOutput(out.stdout, requests, nonce, out.stderr);
      const uid = process.getuid?.() ?? 0;
      const ids = `${uid} ${process.getgid?.() ?? 0} ${execFileSync('id', ['-un'], { encoding: 'utf8' }).trim()} ${execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim()}`;
      expect(results.map((r) => (r.kind === 'stat' ? r.state : null))).toEqual([
        `type=file\nstat=640 ${ids}\n`,
        `type=directory\nempty=1\nstat=755 ${ids}\n`,
        `type=directory\nempty=0\nstat=755 ${ids}\n`,
        'type=symlink\n',
        'type=absent\n',
        `type=file\nstat=644 ${ids}\n`,
        `type=file\nstat=640 ${ids}\n`,
      ]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
