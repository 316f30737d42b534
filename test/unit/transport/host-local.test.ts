// RemoteHost's scripts run by this machine's /bin/sh (dash on Debian) through LocalShell: the same
// scripts an SshConnection sends, without a network. The lab tests repeat the key cases over ssh.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteCommandError } from '../../../src/errors.js';
import { LocalShell, RemoteHost } from '../../../src/host.js';

let dir: string;
let host: RemoteHost;
const facts = { hostname: 'local', kernel: { release: '6.1.0', version: [6, 1, 0] as [number, number, number] } };

/** Backups of this machine's files in the tests go to the scratch dir, never to /var/lib/hvtune. */
const backups = () => join(dir, 'backups');
/**
 * A backup of `path`: under the backup root, stamped with the time and the writer's pid, padded to
 * seven digits so that names sort in the order they were made.
 */
const backupOf = (path: string) => new RegExp(`^${(backups() + path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@\\d{8}T\\d{6}Z\\.\\d{7}$`);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hvtune-host-'));
  host = new RemoteHost('local', new LocalShell(), facts, undefined, backups());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('RemoteHost over a local shell', () => {
  it('writes a new file with parent dirs, exact bytes, mode 0644 and no backup, in one round trip', async () => {
    const path = join(dir, 'etc/sysctl.d/90-hvtune.conf');
    const before = host.roundTrips;
    const result = await host.writeFile(path, 'net.core.somaxconn = 4096');
    expect(host.roundTrips - before).toBe(1);
    expect(result).toEqual({ backup: null });
    expect(readFileSync(path, 'utf8')).toBe('net.core.somaxconn = 4096');
    expect(statSync(path).mode & 0o7777).toBe(0o644);
  });

  it('replaces a file keeping the previous bytes and mode as a backup, then restores it', async () => {
    const path = join(dir, 'grub');
    writeFileSync(path, 'GRUB_CMDLINE_LINUX="quiet"\n', { mode: 0o600 });
    const { backup } = await host.writeFile(path, 'GRUB_CMDLINE_LINUX="quiet mitigations=off"\n');
    expect(backup).toMatch(backupOf(path));
    expect(existsSync(path + '.hvtune-backup')).toBe(false); // nothing beside the file: tools glob whole dirs
    expect(statSync(backups()).mode & 0o777).toBe(0o700);
    expect(readFileSync(backup!, 'utf8')).toBe('GRUB_CMDLINE_LINUX="quiet"\n');
    expect(readFileSync(path, 'utf8')).toBe('GRUB_CMDLINE_LINUX="quiet mitigations=off"\n');
    expect(statSync(path).mode & 0o777).toBe(0o600); // the old mode is kept when none is asked
    await host.restoreFile(path, backup);
    expect(readFileSync(path, 'utf8')).toBe('GRUB_CMDLINE_LINUX="quiet"\n');
    expect(existsSync(backup!)).toBe(false);
  });

  it('sets the mode asked for and leaves no temp files behind', async () => {
    const path = join(dir, 'mode', 'script.sh');
    await host.writeFile(path, '#!/bin/sh\n', { mode: 0o750, backup: false });
    expect(statSync(path).mode & 0o7777).toBe(0o750);
    await host.writeFile(path, '#!/bin/sh\ntrue\n', { backup: false });
    expect(statSync(path).mode & 0o7777).toBe(0o750);
    const left = (await host.exec(['ls', '-A', join(dir, 'mode')])).stdout;
    expect(left).toBe('script.sh\n');
  });

  it('restoring a null backup removes a file that did not exist before', async () => {
    const path = join(dir, 'new.conf');
    const { backup } = await host.writeFile(path, 'x\n');
    await host.restoreFile(path, backup);
    expect(existsSync(path)).toBe(false);
  });

  it('writes through a symlink, keeping the link', async () => {
    writeFileSync(join(dir, 'real.conf'), 'old\n');
    symlinkSync(join(dir, 'real.conf'), join(dir, 'link.conf'));
    const { backup } = await host.writeFile(join(dir, 'link.conf'), 'new\n');
    expect(lstatSync(join(dir, 'link.conf')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'link.conf'))).toBe(join(dir, 'real.conf'));
    expect(readFileSync(join(dir, 'real.conf'), 'utf8')).toBe('new\n');
    expect(backup).toMatch(backupOf(join(dir, 'real.conf')));
  });

  it('removes a file into its backup and restores it', async () => {
    const path = join(dir, 'modprobe.conf');
    writeFileSync(path, 'options kvm_amd avic=1\n');
    const { backup } = await host.removeFile(path);
    expect(backup).toMatch(backupOf(path));
    expect(existsSync(path)).toBe(false);
    expect(await host.removeFile(path)).toEqual({ backup: null });
    await host.restoreFile(path, backup);
    expect(readFileSync(path, 'utf8')).toBe('options kvm_amd avic=1\n');
  });

  it('passes hostile names and contents through quoting untouched', async () => {
    const marker = join(dir, 'pwned');
    const path = join(dir, `a b'$(touch ${marker})'; touch ${marker}`);
    const content = `$(touch ${marker}) \`touch ${marker}\` '"\\\n`;
    await host.writeFile(path, content);
    expect(readFileSync(path, 'utf8')).toBe(content);
    const [read] = await host.read([{ kind: 'file', path }]);
    expect(read).toMatchObject({ content });
    expect((await host.exec(['printf', '%s', `'; touch ${marker}`])).stdout).toBe(`'; touch ${marker}`);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses to write over a directory and changes nothing', async () => {
    const err = await host.writeFile(dir, 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect(String((err as Error).message)).toContain('is a directory');
  });

  it('names a file where a directory is expected, and changes nothing', async () => {
    const notDir = join(dir, 'sysctl.d');
    writeFileSync(notDir, 'a file\n');
    const path = join(notDir, 'deeper', '60-net.conf');
    const err = await host.writeFile(path, 'x\n').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect((err as Error).message).toContain(`\n${notDir} is not a directory: ${path} cannot be written`);
    expect(readFileSync(notDir, 'utf8')).toBe('a file\n');
  });

  it('run() throws with the command and stderr, exec() does not', async () => {
    const err = await host.run(['cat', join(dir, 'absent')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect((err as Error).message).toMatch(/^local: command failed with exit code 1: cat .*absent\n.*No such file/);
    expect(await host.exec(['sh', '-c', 'echo x >&2; exit 4'])).toMatchObject({ stdout: '', stderr: 'x\n', code: 4 });
  });

  it('sh() runs a POSIX script and passes stdin', async () => {
    const result = await host.sh('read line; printf "%s|" "$line"; printf "%s" "$0"', { stdin: 'hello\n' });
    expect(result.stdout).toBe('hello|sh');
  });
});

describe('backups', () => {
  it('keep the last ten versions of a file, oldest gone first', async () => {
    const path = join(dir, 'history.conf');
    writeFileSync(path, 'v0\n');
    const made: string[] = [];
    for (let i = 1; i <= 12; i++) made.push((await host.writeFile(path, `v${i}\n`)).backup!);
    const kept = readdirSync(join(backups(), dir)).filter((f) => f.startsWith('history.conf@'));
    expect(kept).toHaveLength(10);
    expect(readFileSync(made.at(-1)!, 'utf8')).toBe('v11\n');
    expect(existsSync(made[0])).toBe(false); // v0, the oldest
  });

  it('are found after a login shell printed a banner', async () => {
    const noisy = {
      roundTrips: 0,
      exec: async (command: string, opts?: { stdin?: string | Buffer }) => {
        const r = await new LocalShell().exec(command, opts);
        return { ...r, stdout: `Welcome to the lab\n${r.stdout}` };
      },
    };
    const path = join(dir, 'banner.conf');
    writeFileSync(path, 'old\n');
    const { backup } = await new RemoteHost('local', noisy, facts, undefined, backups()).writeFile(path, 'new\n');
    expect(readFileSync(backup!, 'utf8')).toBe('old\n');
  });
});

describe('a write whose bytes do not all arrive', () => {
  /** The channel closing early: the remote side reads only the first part of stdin, then EOF. */
  const cutShell = (keep: number) => {
    const shell = new LocalShell();
    return {
      roundTrips: 0,
      exec: (command: string, opts: { stdin?: string | Buffer } = {}) =>
        shell.exec(command, { ...opts, stdin: opts.stdin === undefined ? undefined : Buffer.from(opts.stdin).subarray(0, keep) }),
    };
  };
  /** The channel mangling bytes: same length, other content. */
  const flipShell = () => {
    const shell = new LocalShell();
    return {
      roundTrips: 0,
      exec: (command: string, opts: { stdin?: string | Buffer } = {}) =>
        shell.exec(command, { ...opts, stdin: opts.stdin === undefined ? undefined : Buffer.from(opts.stdin).toString().toUpperCase() }),
    };
  };
  const leftovers = (path: string) =>
    existsSync(join(path, '..')) ? readdirSync(join(path, '..')).filter((f) => f.includes('hvtune-tmp')) : [];

  it('installs nothing from a transfer cut short: the old file stays whole, no temp file is left', async () => {
    const path = join(dir, 'cut/fstab');
    mkdirSync(join(dir, 'cut'), { recursive: true });
    writeFileSync(path, 'UUID=1 / ext4 defaults 0 1\n');
    const cut = new RemoteHost('local', cutShell(10), facts, undefined, backups());
    const content = 'UUID=1 / ext4 defaults 0 1\nhugetlbfs /mnt/hp hugetlbfs pagesize=2M 0 0\n';
    await expect(cut.writeFile(path, content)).rejects.toThrow(/incomplete transfer, 10 of 71 bytes arrived: left unchanged/);
    expect(readFileSync(path, 'utf8')).toBe('UUID=1 / ext4 defaults 0 1\n');
    expect(existsSync(backups() + path)).toBe(false);
    expect(leftovers(path)).toEqual([]);
  });

  it('installs nothing whose bytes changed on the way', async () => {
    const path = join(dir, 'cut/grub');
    writeFileSync(path, 'GRUB_CMDLINE_LINUX=""\n');
    await expect(
      new RemoteHost('local', flipShell(), facts, undefined, backups()).writeFile(path, 'GRUB_CMDLINE_LINUX="quiet"\n'),
    ).rejects.toThrow(/are not the ones sent: left unchanged/);
    expect(readFileSync(path, 'utf8')).toBe('GRUB_CMDLINE_LINUX=""\n');
    expect(leftovers(path)).toEqual([]);
  });
});
