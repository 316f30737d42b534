// The shell session's pure parts: which command lines a subshell may `exec`, what may travel
// through the session, and the start line's answer on a host without bash.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { joinArgv } from '../../../src/quote.js';
import { sessionCanCarry, sessionCommandLine, sessionScript } from '../../../src/transport/shell-session.js';

describe('sessionScript', () => {
  it('execs one simple command of quoted words, as joinArgv writes them', () => {
    for (const argv of [
      ['sysctl', '-q', '-w', 'a.b=1 2'],
      ['sh', '-c', "echo 'it''s'\nexit 3"],
      ['cat', '/proc/sys/x'],
      ["it's", 'x'],
    ]) {
      const line = joinArgv(argv);
      expect(sessionScript(line)).toBe(`exec ${line}`);
    }
  });

  it('leaves anything else as it is: lists, pipes, redirections, an assignment first', () => {
    for (const line of ['a; b', 'a && b', 'a | b', 'a >f', 'FOO=1 cmd', "sh -c 'x' &", 'echo $HOME', '(a)', 'exit 4', 'cd /tmp', 'umask']) {
      expect(sessionScript(line)).toBe(line);
    }
  });
});

describe('what the session carries', () => {
  it('text up to 256 KiB; not a NUL byte, not more', () => {
    expect(sessionCanCarry(undefined)).toBe(true);
    expect(sessionCanCarry('x'.repeat(256 * 1024))).toBe(true);
    expect(sessionCanCarry('x'.repeat(256 * 1024 + 1))).toBe(false);
    expect(sessionCanCarry('a\0b')).toBe(false);
    expect(sessionCanCarry(Buffer.from([97, 0]))).toBe(false);
  });
});

describe('sessionCommandLine', () => {
  it('exits 97 where there is no bash, so the command runs on a channel of its own', () => {
    const r = spawnSync('/bin/sh', ['-c', sessionCommandLine('hvt0123456789abcdef01234567')], {
      env: { PATH: '/nonexistent' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(97);
    expect(r.stdout).toBe('');
  });

  it('announces the loop with its PID on both streams, then runs framed commands in subshells', () => {
    const nonce = 'hvt0123456789abcdef01234567';
    const input = ['echo hi; exit 3', 'printf %s "$x"'].map((s) => `${Buffer.byteLength(s)} -\n${s}`).join('');
    const r = spawnSync('/bin/sh', ['-c', sessionCommandLine(nonce)], { input, encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.stdout).toMatch(new RegExp(`^\\n@${nonce}@ ready \\d+\\nhi\\n\\n@${nonce}@ end 3\\n\\n@${nonce}@ end 0\\n$`));
    expect(r.stderr).toMatch(new RegExp(`^\\n@${nonce}@ ready \\d+\\n\\n@${nonce}@ end 3\\n\\n@${nonce}@ end 0\\n$`));
  });
});
