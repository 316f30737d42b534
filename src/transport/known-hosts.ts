// An OpenSSH known_hosts reader and writer, following hostfile.c: plain and hashed
// (`|1|salt|hmac`) host patterns, `[host]:port` for ports other than 22, comma lists with `*`, `?`
// and `!` (OpenSSH's wildcards, src/glob.ts), `@revoked` (refused) and `@cert-authority` (ignored:
// we do not verify host certificates).

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { wildcardMatch } from '../glob.js';

export type HostKeyStatus = 'ok' | 'unknown' | 'changed' | 'revoked';

export interface KnownHostEntry {
  /** 1-based line number in the file, for messages. */
  line: number;
  marker: 'revoked' | 'cert-authority' | null;
  hostPatterns: string;
  keyType: string;
  keyBase64: string;
}

export interface HostKeyCheck {
  status: HostKeyStatus;
  /** The line that decided: the matching key (ok/revoked) or the conflicting one (changed). */
  entry?: KnownHostEntry;
}

/** The name OpenSSH looks up (lowercased, as ssh does): `host`, or `[host]:port` when port ≠ 22. */
export function hostLookupName(hostname: string, port: number): string {
  const host = hostname.toLowerCase();
  return port === 22 ? host : `[${host}]:${port}`;
}

/** `SHA256:…` as `ssh-keygen -lf` prints it. */
export function fingerprint(keyBase64: string): string {
  const digest = createHash('sha256').update(Buffer.from(keyBase64, 'base64')).digest('base64');
  return 'SHA256:' + digest.replace(/=+$/, '');
}

/** The key type written inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`…). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0].startsWith('@')) {
      const name = fields.shift()!;
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else return; // unknown marker: OpenSSH skips the line
    }
    if (fields.length < 3) return; // old SSH1 lines and garbage
    entries.push({ line: index + 1, marker, hostPatterns: fields[0], keyType: fields[1], keyBase64: fields[2] });
  });
  return entries;
}

function hashedMatch(name: string, field: string): boolean {
  const parts = field.split('|'); // ['', '1', salt, hmac]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const hmac = createHmac('sha1', Buffer.from(parts[2], 'base64')).update(name).digest('base64');
  return hmac === parts[3];
}

/** match_hostname(): any negated pattern that matches vetoes the line; otherwise one positive. */
export function hostMatches(name: string, patterns: string): boolean {
  if (patterns.startsWith('|')) return hashedMatch(name, patterns);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (!wildcardMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/**
 * The entries of a parse that name a host, computed once per parse and host: a connection asks
 * twice (the key types to offer, then the offered key), and a hashed line costs an HMAC each time.
 */
const matchesOf = new WeakMap<KnownHostEntry[], Map<string, KnownHostEntry[]>>();

function entriesNaming(entries: KnownHostEntry[], name: string): KnownHostEntry[] {
  let byName = matchesOf.get(entries);
  if (!byName) matchesOf.set(entries, (byName = new Map()));
  let found = byName.get(name);
  if (!found) byName.set(name, (found = entries.filter((e) => hostMatches(name, e.hostPatterns))));
  return found;
}

function sameKey(a: string, b: string): boolean {
  return Buffer.from(a, 'base64').equals(Buffer.from(b, 'base64'));
}

/**
 * Check one offered key. A revoked key is refused wherever it appears; a key of a type the file
 * knows for this host but with other bytes is 'changed'; a key of a type the file does not know
 * while it knows others for the host is also 'changed' (stricter than ssh's prompt, on purpose:
 * there is nobody to ask). The connection prefers known types, so this only fires when the
 * server no longer offers them.
 */
export function checkHostKey(entries: KnownHostEntry[], hostname: string, port: number, keyType: string, keyBase64: string): HostKeyCheck {
  const name = hostLookupName(hostname, port);
  let conflict: KnownHostEntry | undefined;
  let otherType: KnownHostEntry | undefined;
  let ok: KnownHostEntry | undefined;
  for (const entry of entriesNaming(entries, name)) {
    if (entry.marker === 'cert-authority') continue;
    if (entry.marker === 'revoked') {
      if (sameKey(entry.keyBase64, keyBase64)) return { status: 'revoked', entry };
      continue;
    }
    if (entry.keyType !== keyType) otherType ??= entry;
    else if (sameKey(entry.keyBase64, keyBase64)) ok ??= entry;
    else conflict ??= entry;
  }
  if (ok) return { status: 'ok', entry: ok };
  if (conflict) return { status: 'changed', entry: conflict };
  if (otherType) return { status: 'changed', entry: otherType };
  return { status: 'unknown' };
}

/** Key types the file holds for a host, so the connection can offer them first (as ssh does). */
export function knownKeyTypes(entries: KnownHostEntry[], hostname: string, port: number): string[] {
  const name = hostLookupName(hostname, port);
  const types = entriesNaming(entries, name)
    .filter((e) => e.marker === null)
    .map((e) => e.keyType);
  return [...new Set(types)];
}

/** `|1|salt|hmac` as `HashKnownHosts yes` writes it. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const hmac = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${hmac}`;
}

/** The last parse of each file, with what identified its content. */
const parsed = new Map<string, { ino: number; size: number; mtimeMs: number; entries: KnownHostEntry[] }>();

// Appends from concurrent connections in this process go one after the other, per file.
const writeQueues = new Map<string, Promise<unknown>>();

export class KnownHostsFile {
  readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
  }

  /**
   * Entries now in the file; a missing file is empty. Other runs may add lines, so the file is
   * checked each time, but parsed again only when it changed: a fleet's connections share one
   * parse of a file that lists the whole fleet.
   */
  async entries(): Promise<KnownHostEntry[]> {
    let now: { ino: number; size: number; mtimeMs: number };
    try {
      // sync: a stat of a local file takes microseconds; through the thread pool it cost a
      // millisecond of the controller's CPU per host, asked twice per handshake
      now = statSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const known = parsed.get(this.path);
    if (known && known.ino === now.ino && known.size === now.size && known.mtimeMs === now.mtimeMs) return known.entries;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries = parseKnownHosts(text);
    // the size read is the one stat saw unless the file grew in between: then parse again next time
    if (Buffer.byteLength(text) === now.size) parsed.set(this.path, { ...now, entries });
    return entries;
  }

  async check(hostname: string, port: number, keyType: string, keyBase64: string): Promise<HostKeyCheck> {
    return checkHostKey(await this.entries(), hostname, port, keyType, keyBase64);
  }

  async verify(hostname: string, port: number, keyType: string, keyBase64: string): Promise<HostKeyStatus> {
    return (await this.check(hostname, port, keyType, keyBase64)).status;
  }

  /**
   * Append one line (created 0600 with a 0700 parent if missing). One write() with O_APPEND, so
   * other processes appending at the same time do not interleave with it.
   */
  add(hostname: string, port: number, keyType: string, keyBase64: string, opts: { hash?: boolean } = {}): Promise<void> {
    const name = hostLookupName(hostname, port);
    const pattern = opts.hash ? hashHostName(name) : name;
    const previous = writeQueues.get(this.path) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        // Two connections to the same new host both ask to add it: write the line once.
        if ((await this.verify(hostname, port, keyType, keyBase64)) === 'ok') return;
        await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
        const handle = await open(this.path, 'a+', 0o600);
        try {
          const { size } = await handle.stat();
          let lead = '';
          if (size > 0) {
            const last = Buffer.alloc(1);
            await handle.read(last, 0, 1, size - 1);
            if (last[0] !== 0x0a) lead = '\n';
          }
          await handle.write(`${lead}${pattern} ${keyType} ${keyBase64}\n`);
          await handle.sync();
        } finally {
          await handle.close();
        }
      });
    writeQueues.set(this.path, next);
    return next;
  }
}
