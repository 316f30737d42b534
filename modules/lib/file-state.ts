// What a path is on a host, in one small script: its type, mode/owner/group and (optionally) its
// exact bytes. Shared by the file and lineinfile modules; the script's output is also what their
// parser fixtures capture.

import { sh } from '../../src/quote.js';
import type { HostHandle, ReadRequest, ReadResult } from '../../src/module.js';

export type PathType = 'absent' | 'file' | 'directory' | 'symlink' | 'other';

export interface FileState {
  type: PathType;
  /** "0644" form; null when the path does not exist or is a symlink (never followed). */
  mode: string | null;
  owner: string | null;
  group: string | null;
  uid: number | null;
  gid: number | null;
  /** Text of a regular file when asked for; null otherwise. */
  content: string | null;
  /** For directories: true when it has no entries. */
  empty?: boolean;
}

/** A POSIX sh script describing `path`; with `content`, a regular file's bytes follow in base64. */
export function fileStateScript(path: string, opts: { content: boolean }): string {
  const lines = [
    sh`p=${path}`,
    'if [ -L "$p" ]; then echo type=symlink',
    'elif [ -d "$p" ]; then echo type=directory; if [ -z "$(ls -A -- "$p")" ]; then echo empty=1; else echo empty=0; fi',
    'elif [ -f "$p" ]; then echo type=file',
    'elif [ -e "$p" ]; then echo type=other',
    'else echo type=absent; fi',
    'if [ -e "$p" ] && [ ! -L "$p" ]; then stat -c "stat=%a %u %g %U %G" -- "$p"; fi',
  ];
  if (opts.content) {
    lines.push('if [ -f "$p" ] && [ ! -L "$p" ]; then printf content=; base64 -w0 < "$p"; echo; fi');
  }
  return lines.join('\n') + '\n';
}

/** Parse the output of fileStateScript. Throws when the script did not run as expected. */
export function parseFileState(stdout: string): FileState {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  const type = kv.get('type') as PathType | undefined;
  if (!type || !['absent', 'file', 'directory', 'symlink', 'other'].includes(type)) {
    throw new Error(`cannot read the state of the file: unexpected output ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  const stat = /^([0-7]+) (\d+) (\d+) (\S+) (\S+)$/.exec(kv.get('stat') ?? '');
  const encoded = kv.get('content');
  const state: FileState = {
    type,
    mode: stat ? stat[1].padStart(4, '0') : null,
    owner: stat ? stat[4] : null,
    group: stat ? stat[5] : null,
    uid: stat ? Number(stat[2]) : null,
    gid: stat ? Number(stat[3]) : null,
    content: encoded === undefined ? null : Buffer.from(encoded, 'base64').toString('utf8'),
  };
  if (kv.has('empty')) state.empty = kv.get('empty') === '1';
  return state;
}

/**
 * Absolute paths of plain characters, no `..` segment: the second wall behind quoting, and a
 * guard against a templated path escaping the directory it was meant for.
 */
export const ABSOLUTE_PATH_PATTERN = '^(?!.*/\\.\\.(/|$))/[A-Za-z0-9._+@%=:,~/-]{0,4095}$';

/** User and group names as useradd accepts them, or numeric ids. */
export const ACCOUNT_PATTERN = '^([a-z_][a-z0-9_.-]{0,31}\\$?|[0-9]{1,10})$';

/** True when `want` (a name or a numeric id) is the observed account. */
export function sameAccount(want: string, name: string | null, id: number | null): boolean {
  return /^[0-9]+$/.test(want) ? id === Number(want) : name === want;
}

/**
 * Read requests for a path's state: the stat script, then (with content) a plain file read, which
 * the engine knows to re-read after an earlier task wrote the file and, in check mode, to show
 * as that task would leave it.
 */
export function fileStateRequests(path: string, opts: { content: boolean }): ReadRequest[] {
  const stat: ReadRequest = { kind: 'stat', path };
  return opts.content ? [stat, { kind: 'file', path }] : [stat];
}

/** The state from the results of fileStateRequests (parse phase). */
export function fileStateFromResults(results: ReadResult[]): FileState {
  const [stat, file] = results;
  const state = parseFileState(stat.kind === 'stat' ? stat.state : stat.kind === 'script' || stat.kind === 'cmd' ? stat.stdout : '');
  if (file?.kind !== 'file') return state;
  if (file.content !== null && state.type === 'absent') {
    // check mode: an earlier task of the run would create it
    return { ...state, type: 'file', content: file.content };
  }
  if (file.content === null && state.type === 'file') {
    // check mode: an earlier task would remove it
    return { type: 'absent', mode: null, owner: null, group: null, uid: null, gid: null, content: null };
  }
  return { ...state, content: state.type === 'file' ? file.content : null };
}

/** Read a path's state through a host handle (apply's read-back): one batched read, as when planning. */
export async function readFileState(host: HostHandle, path: string, opts: { content: boolean }): Promise<FileState> {
  return fileStateFromResults(await host.read(fileStateRequests(path, opts)));
}
