import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { remoteCommandLine } from '../../../src/transport/ssh.js';

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
