// A write or removal that expects what it replaces (issue 15, finding 6): the check runs in the
// same remote script right before the rename, so a file changed since the plan read it is left as
// it is. Through this machine's /bin/sh, the script an SshConnection sends.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaleWriteError } from '../../../src/errors.js';
import { LocalShell, RemoteHost } from '../../../src/host.js';
import { expectationOf } from '../../../src/engine/apply.js';

let dir: string;
let host: RemoteHost;
const facts = { hostname: 'local', kernel: { release: '6.1.0', version: [6, 1, 0] as [number, number, number] } };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hvtune-expect-'));
  host = new RemoteHost('local', new LocalShell(), facts, undefined, join(dir, 'backups'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writes that expect what they replace', () => {
  it('write when the file still holds what was read', async () => {
    const path = join(dir, 'same.conf');
    writeFileSync(path, 'a = 1\n');
    await host.writeFile(path, 'a = 1\nb = 2\n', { expect: expectationOf('a = 1\n') });
    expect(readFileSync(path, 'utf8')).toBe('a = 1\nb = 2\n');
  });

  it('refuse a file changed since the read, leaving it and no temp file', async () => {
    const sub = join(dir, 'changed');
    const path = join(sub, '60-shared.conf');
    await host.writeFile(path, 'a = 1\n', { backup: false });
    writeFileSync(path, 'a = 1\nother = 3\n'); // someone else's write since the read
    const err = await host.writeFile(path, 'a = 1\nb = 2\n', { expect: expectationOf('a = 1\n') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleWriteError);
    expect((err as Error).message).toBe(
      `local: ${path} changed on the host since it was read: re-run to plan again (it was left as it is)`,
    );
    expect(readFileSync(path, 'utf8')).toBe('a = 1\nother = 3\n');
    expect(readdirSync(sub)).toEqual(['60-shared.conf']);
    expect(existsSync(join(dir, 'backups', path))).toBe(false);
  });

  it('refuse to create a file that appeared since it was read as absent', async () => {
    const path = join(dir, 'appeared.conf');
    writeFileSync(path, 'theirs\n');
    await expect(host.writeFile(path, 'ours\n', { expect: expectationOf(null) })).rejects.toThrow(StaleWriteError);
    expect(readFileSync(path, 'utf8')).toBe('theirs\n');
  });

  it('refuse to write a file removed since it was read', async () => {
    const path = join(dir, 'vanished.conf');
    await expect(host.writeFile(path, 'ours\n', { expect: expectationOf('was here\n') })).rejects.toThrow(StaleWriteError);
    expect(existsSync(path)).toBe(false);
  });

  it('removal: refused when changed, done when as read', async () => {
    const path = join(dir, 'remove.conf');
    writeFileSync(path, 'edited\n');
    await expect(host.removeFile(path, { expect: expectationOf('planned\n') })).rejects.toThrow(StaleWriteError);
    expect(readFileSync(path, 'utf8')).toBe('edited\n');
    await host.removeFile(path, { expect: expectationOf('edited\n') });
    expect(existsSync(path)).toBe(false);
  });
});
