import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KnownHostsFile,
  checkHostKey,
  fingerprint,
  hostMatches,
  knownKeyTypes,
  parseKnownHosts,
} from '../../../src/transport/known-hosts.js';

let dir: string;
/** Public keys made by ssh-keygen: [type, base64]. */
const keys: Record<string, [string, string]> = {};

function makeKey(name: string, type: string): void {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', path]);
  const [keyType, blob] = readFileSync(path + '.pub', 'utf8').split(' ');
  keys[name] = [keyType, blob];
}

const line = (hosts: string, name: string) => `${hosts} ${keys[name][0]} ${keys[name][1]}`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hvtune-kh-'));
  makeKey('a', 'ed25519');
  makeKey('b', 'ed25519');
  makeKey('r', 'rsa');
  makeKey('e', 'ecdsa');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** OpenSSH's own answer: whether `ssh-keygen -F` finds a line for `name` in `file`. */
function sshKeygenFinds(name: string, file: string): boolean {
  try {
    execFileSync('ssh-keygen', ['-F', name, '-f', file], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

const verify = (text: string, host: string, port: number, name: string) =>
  checkHostKey(parseKnownHosts(text), host, port, ...keys[name]).status;

describe('known_hosts lookups', () => {
  it('accepts the recorded key and reports an unknown host', () => {
    const text = `# comment\n\n${line('hv1,10.0.0.11', 'a')}\n`;
    expect(verify(text, '10.0.0.11', 22, 'a')).toBe('ok');
    expect(verify(text, 'HV1', 22, 'a')).toBe('ok');
    expect(verify(text, '10.0.0.12', 22, 'a')).toBe('unknown');
  });

  it('keeps port 22 and other ports apart with [host]:port', () => {
    const text = line('[10.0.0.11]:2222', 'a');
    expect(verify(text, '10.0.0.11', 2222, 'a')).toBe('ok');
    expect(verify(text, '10.0.0.11', 22, 'a')).toBe('unknown');
    expect(verify(line('10.0.0.11', 'a'), '10.0.0.11', 2222, 'a')).toBe('unknown');
  });

  it('reports a different key of the same type as changed, naming the line', () => {
    const text = `# x\n${line('10.0.0.11', 'a')}\n`;
    const result = checkHostKey(parseKnownHosts(text), '10.0.0.11', 22, ...keys.b);
    expect(result.status).toBe('changed');
    expect(result.entry?.line).toBe(2);
  });

  it('reports a key of a type the file does not know while it knows others as changed', () => {
    expect(verify(line('10.0.0.11', 'r'), '10.0.0.11', 22, 'a')).toBe('changed');
  });

  it('accepts when one of several lines for the host holds the key', () => {
    const text = [line('10.0.0.11', 'r'), line('10.0.0.11', 'b'), line('10.0.0.11', 'a')].join('\n');
    expect(verify(text, '10.0.0.11', 22, 'a')).toBe('ok');
    expect(knownKeyTypes(parseKnownHosts(text), '10.0.0.11', 22)).toEqual(['ssh-rsa', 'ssh-ed25519']);
  });

  it('matches wildcards and lets a negation veto the line', () => {
    const text = line('10.0.0.*,!10.0.0.13', 'a');
    expect(verify(text, '10.0.0.11', 22, 'a')).toBe('ok');
    expect(verify(text, '10.0.0.13', 22, 'a')).toBe('unknown');
    expect(verify(line('hv?', 'a'), 'hv7', 22, 'a')).toBe('ok');
    expect(verify(line('hv?', 'a'), 'hv10', 22, 'a')).toBe('unknown');
  });

  it('refuses a @revoked key and ignores @cert-authority lines', () => {
    const text = [`@revoked * ${keys.b.join(' ')}`, `@cert-authority *.lab ${keys.a.join(' ')}`, line('hv1', 'a')].join('\n');
    expect(verify(text, 'hv1', 22, 'b')).toBe('revoked');
    expect(verify(text, 'hv1', 22, 'a')).toBe('ok');
    expect(verify(text, 'x.lab', 22, 'a')).toBe('unknown');
  });

  it('reads hashed lines written by ssh-keygen -H, and agrees with ssh-keygen -F', () => {
    const file = join(dir, 'hashed');
    writeFileSync(file, [line('hv1', 'a'), line('[10.0.0.11]:2222', 'e'), line('10.0.0.12', 'r')].join('\n') + '\n');
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('hv1');
    expect(text.split('\n').filter((l) => l.startsWith('|1|'))).toHaveLength(3);
    expect(verify(text, 'hv1', 22, 'a')).toBe('ok');
    expect(verify(text, '10.0.0.11', 2222, 'e')).toBe('ok');
    expect(verify(text, '10.0.0.11', 22, 'e')).toBe('unknown');
    expect(verify(text, '10.0.0.12', 22, 'b')).toBe('changed');
    for (const [host, port] of [
      ['hv1', 22],
      ['10.0.0.11', 2222],
      ['10.0.0.12', 22],
      ['hv2', 22],
    ] as const) {
      const name = port === 22 ? host : `[${host}]:${port}`;
      const ours = parseKnownHosts(text).some((e) => hostMatches(name, e.hostPatterns));
      expect(ours, name).toBe(sshKeygenFinds(name, file));
    }
  });

  it('matches wildcard lines as ssh-keygen -F does (brackets are ports, not classes; case does not matter)', () => {
    const patterns = ['10.0.0.*,!10.0.0.13', '[hv?.lab]:2222', 'HV[12]', 'web*.Lab,!web9*', '*.example.com', 'db?'];
    const names = [
      '10.0.0.11',
      '10.0.0.13',
      '10.0.1.11',
      '[hv1.lab]:2222',
      '[hv12.lab]:2222',
      '[hv1.lab]:22',
      'hv1',
      'hv[12]',
      'web1.lab',
      'web9.lab',
      'webx.lab.org',
      'a.example.com',
      'example.com',
      'db1',
      'db12',
      'db',
    ];
    for (const pattern of patterns) {
      const file = join(dir, 'wildcards');
      writeFileSync(file, line(pattern, 'a') + '\n');
      for (const name of names) {
        expect(hostMatches(name, pattern), `${name} against ${pattern}`).toBe(sshKeygenFinds(name, file));
      }
    }
  });

  it('prints fingerprints as ssh-keygen -l does', () => {
    const printed = execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'a.pub')], { encoding: 'utf8' });
    expect(printed).toContain(fingerprint(keys.a[1]));
  });
});

describe('KnownHostsFile.add', () => {
  it('creates the file 0600 and the next verify passes', async () => {
    const file = join(dir, 'new', 'known_hosts');
    const kh = new KnownHostsFile(file);
    expect(await kh.verify('10.0.0.11', 2222, ...keys.a)).toBe('unknown');
    await kh.add('10.0.0.11', 2222, ...keys.a);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await kh.verify('10.0.0.11', 2222, ...keys.a)).toBe('ok');
    expect(readFileSync(file, 'utf8')).toBe(`[10.0.0.11]:2222 ${keys.a.join(' ')}\n`);
  });

  it('appends after a last line without newline, and many concurrent adds all land intact', async () => {
    const file = join(dir, 'concurrent');
    writeFileSync(file, line('hv0', 'r'));
    const kh = new KnownHostsFile(file);
    await Promise.all(Array.from({ length: 40 }, (_, i) => kh.add(`10.0.1.${i}`, 22, ...keys[i % 2 ? 'a' : 'e'])));
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(41);
    for (let i = 0; i < 40; i++) expect(await kh.verify(`10.0.1.${i}`, 22, ...keys[i % 2 ? 'a' : 'e'])).toBe('ok');
    expect(await kh.verify('hv0', 22, ...keys.r)).toBe('ok');
  });

  it('adds a key only once when several connections accept it at the same time', async () => {
    const file = join(dir, 'once');
    const kh = new KnownHostsFile(file);
    await Promise.all([1, 2, 3].map(() => kh.add('hv5', 22, ...keys.a)));
    expect(readFileSync(file, 'utf8')).toBe(`hv5 ${keys.a.join(' ')}\n`);
  });

  it('writes hashed lines that ssh-keygen -F finds', async () => {
    const file = join(dir, 'hashed-add');
    const kh = new KnownHostsFile(file);
    await kh.add('hv9', 2200, ...keys.a, { hash: true });
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    const found = execFileSync('ssh-keygen', ['-F', '[hv9]:2200', '-f', file], { encoding: 'utf8' });
    expect(found).toContain(keys.a[1]);
    expect(await kh.verify('hv9', 2200, ...keys.a)).toBe('ok');
  });
});

describe('KnownHostsFile.entries', () => {
  it('parses an unchanged file once, and sees what another run wrote or replaced', async () => {
    const file = join(dir, 'shared');
    writeFileSync(file, line('hv1', 'a'));
    const kh = new KnownHostsFile(file);
    const first = await kh.entries();
    expect(await new KnownHostsFile(file).entries()).toBe(first);
    appendFileSync(file, `\n${line('hv2', 'e')}`);
    expect(await kh.verify('hv2', 22, ...keys.e)).toBe('ok');
    // rewritten whole by another tool (a new inode), same length
    writeFileSync(`${file}.new`, line('hv3', 'a'));
    renameSync(`${file}.new`, file);
    expect(await kh.verify('hv1', 22, ...keys.a)).toBe('unknown');
    expect(await kh.verify('hv3', 22, ...keys.a)).toBe('ok');
  });
});
