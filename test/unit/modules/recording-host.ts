// A HostHandle for apply tests without a host: files live in a map, commands succeed and are
// recorded in order, and scripts read back what the test says the host shows.

import { joinArgv } from '../../../src/quote.js';
import type { CommandResult, HostHandle, ReadRequest, ReadResult } from '../../../src/module.js';
import type { Facts } from '../../../src/facts.js';

export interface RecordingHost extends HostHandle {
  /** Every command, script and file operation, in order: `exec …`, `sh …`, `write PATH`, `remove PATH`. */
  readonly calls: string[];
  readonly files: Map<string, string>;
}

const ok: CommandResult = { stdout: '', stderr: '', code: 0 };

export function recordingHost(opts: { files?: Record<string, string>; script?: (script: string) => string } = {}): RecordingHost {
  const files = new Map(Object.entries(opts.files ?? {}));
  const calls: string[] = [];
  const facts: Facts = { hostname: 'hv1', kernel: { release: '6.1.0', version: [6, 1, 0] } };
  const glob = (pattern: string) => {
    const [dir, name] = [pattern.slice(0, pattern.lastIndexOf('/') + 1), pattern.slice(pattern.lastIndexOf('/') + 1)];
    const re = new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    return Object.fromEntries(
      [...files].filter(([p]) => p.startsWith(dir) && re.test(p.slice(dir.length))).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  };
  const answer = (r: ReadRequest): ReadResult => {
    if (r.kind === 'file') return { kind: 'file', path: r.path, content: files.get(r.path) ?? null };
    if (r.kind === 'glob') return { kind: 'glob', pattern: r.pattern, files: glob(r.pattern) };
    return { kind: r.kind, ...ok, stdout: opts.script?.(r.kind === 'script' ? r.script : joinArgv(r.argv)) ?? '' };
  };
  return {
    name: 'hv1',
    facts,
    calls,
    files,
    exec: async (argv) => {
      calls.push(`exec ${joinArgv(argv)}`);
      return ok;
    },
    run: async (argv) => {
      calls.push(`exec ${joinArgv(argv)}`);
      return ok;
    },
    sh: async (script) => {
      calls.push(`sh ${script}`);
      return ok;
    },
    read: async (requests) => requests.map(answer),
    writeFile: async (path, content) => {
      calls.push(`write ${path}`);
      files.set(path, content);
      return { backup: null };
    },
    removeFile: async (path) => {
      calls.push(`remove ${path}`);
      files.delete(path);
      return { backup: null };
    },
    restoreFile: async () => undefined,
  };
}
