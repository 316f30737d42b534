import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { becomeStdinPrefix, newPasswordMarker, remoteCommandLine } from '../../../src/transport/ssh.js';

/** The argv dash hands to `sudo` for a line, with `sudo` replaced by a function that prints it. */
function sudoArgv(line: string): string[] {
  const out = spawnSync('/bin/dash', ['-c', `sudo() { printf '%s\\0' "$@"; }\n${line}`], { encoding: 'utf8' });
  return out.stdout.split('\0').slice(0, -1);
}

describe('become', () => {
  const command = `printf '%s' "it's \\$HOME"; echo $(id -u) \`x\` > /tmp/y`;

  it('sends the command unchanged for root or without become', () => {
    expect(remoteCommandLine({ user: 'root', become: true }, command)).toBe(command);
    expect(remoteCommandLine({ user: 'ops' }, command)).toBe(command);
  });

  it('wraps the whole command in sudo -n sh -c, quoted so sudo receives it byte for byte', () => {
    const line = remoteCommandLine({ user: 'ops', become: true }, command);
    expect(line.startsWith('sudo -n sh -c ')).toBe(true);
    expect(sudoArgv(line)).toEqual(['-n', 'sh', '-c', command]);
  });
});

describe('become with a password (-K)', () => {
  const marker = newPasswordMarker();
  const password = `pa ss'"$(touch /tmp/x)\\`;
  const command = `printf 'got:'; cat; printf ':end'`;
  const line = remoteCommandLine({ user: 'ops', become: true }, command, marker);

  it('gives sudo -S no prompt, and neither the password nor anything but the marker is in the line', () => {
    expect(line.startsWith("sudo -S -p '' sh -c ")).toBe(true);
    expect(line).not.toContain('pa ss');
    expect(marker).toMatch(/^hvtune-become-[0-9a-f]{24}$/);
  });

  /**
   * The line run by dash with `sudo` standing in as a function: it reads the password line from
   * stdin when `reads` (as sudo -S does when it asks), or not (cached credentials, NOPASSWD),
   * then runs the rest as sudo would.
   */
  function runWithSudo(reads: boolean, input: string) {
    const sudo = reads ? `sudo() { IFS= read -r pw; [ "$pw" = "$EXPECTED" ] || exit 9; shift 3; "$@"; }` : `sudo() { shift 3; "$@"; }`;
    return spawnSync('/bin/dash', ['-c', `${sudo}\n${line}`], {
      input: Buffer.concat([becomeStdinPrefix(password, marker), Buffer.from(input)]),
      env: { ...process.env, EXPECTED: password },
      encoding: 'utf8',
    });
  }

  it.each([
    ['sudo reads the password', true],
    ['sudo does not ask (cached, NOPASSWD)', false],
  ])('%s: the command gets its own stdin byte for byte, never the password', (_what, reads) => {
    const input = `line one\n${marker}\nno newline at the end`;
    const r = runWithSudo(reads, input);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`got:${input}:end`);
    expect(r.stdout).not.toContain('pa ss');
  });

  it('an empty stdin stays empty', () => {
    expect(runWithSudo(true, '').stdout).toBe('got::end');
    expect(runWithSudo(false, '').stdout).toBe('got::end');
  });
});
