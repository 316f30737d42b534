import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadRequest } from '../../../src/module.js';
import { sh } from '../../../src/quote.js';
import { buildReadScript, newNonce, parseReadOutput } from '../../../src/transport/batch.js';

let dir: string;

/** Run a batch with dash exactly as a remote `sh -s` would: the script on stdin. */
function runBatch(requests: ReadRequest[]) {
  const nonce = newNonce();
  const script = buildReadScript(requests, nonce);
  const out = spawnSync('/bin/dash', ['-s'], { input: script, cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, TMPDIR: dir } });
  return { out, results: parseReadOutput(out.stdout, requests, nonce), nonce };
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

describe('batched reads run by dash', () => {
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

  it('starts no process to read regular files and globs', () => {
    // With an empty PATH no program can start: the reads must be done by shell builtins alone.
    const requests: ReadRequest[] = [
      { kind: 'file', path: join(dir, 'no-newline') },
      { kind: 'file', path: join(dir, 'utf8') },
      { kind: 'glob', pattern: `${dir}/sysctl.d/*.conf` },
    ];
    const nonce = newNonce();
    const out = spawnSync('/bin/dash', ['-s'], { input: buildReadScript(requests, nonce), encoding: 'utf8', env: { PATH: '' } });
    expect(out.stderr).toBe('');
    expect(parseReadOutput(out.stdout, requests, nonce)).toEqual([
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

  it('cleans up its temp directory', () => {
    runBatch([{ kind: 'cmd', argv: ['true'] }]);
    const left = execFileSync('find', [dir, '-maxdepth', '1', '-name', 'hvtune-read.*'], { encoding: 'utf8' });
    expect(left).toBe('');
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
    const out = spawnSync('/bin/dash', ['-s'], { input: buildReadScript(requests, nonce), encoding: 'utf8' }).stdout;
    expect(parseReadOutput('Welcome!\n' + out, requests, nonce)).toEqual([
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
