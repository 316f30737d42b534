// The read phase in one round trip: every ReadRequest of a host becomes one shell script whose
// stdout and stderr split back exactly into ReadResults.
//
// Output format: on each stream a sequence of blocks, each opened by a marker line
// `\n@NONCE@ <header>\n` and closed by the next marker. The script prints the newline before each
// marker itself, so a payload is exactly the bytes between one marker line and the next
// `\n@NONCE@ `: a file without a trailing newline stays so. The nonce is random per batch, so no
// file content can forge a marker. The last stdout marker is `done`, so truncated output is
// detected instead of misread.
//
// stdout: `<index> file <seq>` (a file's bytes), `<index> absent`, `<index> path` (a glob match's
// path), `<index> stat` (a path's type), `modes` (the one `stat` of every stat request's path),
// `<index> stdout` and `<index> exit <code>` (a command's output and status).
// stderr: `r<seq>` (what reading file number seq said: empty unless it failed) and `c<index>` (a
// command's stderr). Commands write straight to the two streams, so a request costs no temp file
// and no process beyond the command itself.
//
// The script runs in bash when the host has it and in any POSIX sh otherwise. bash's `read` of a
// file reads a block and seeks back, so a kernel file (/proc/sys answers only a read at offset 0)
// is read whole by a builtin, and one `read -d ''` a regular file; sh's `read` takes a byte at a
// time, so there /proc and /sys files go through `cat`.

import { randomBytes } from 'node:crypto';
import { HvtuneError } from '../errors.js';
import type { ReadRequest, ReadResult } from '../module.js';
import { joinArgv, quote } from '../quote.js';

export function newNonce(): string {
  return 'hvt' + randomBytes(12).toString('hex');
}

function checkNonce(nonce: string): void {
  // The nonce is pasted into the script unquoted and into a regex-free split: keep it plain.
  if (!/^[A-Za-z0-9]{8,64}$/.test(nonce)) throw new Error(`invalid batch nonce ${JSON.stringify(nonce)}`);
}

/** Lines of shell for one request. Commands run with stdin from /dev/null (the batch may itself arrive on stdin). */
function requestLines(request: ReadRequest, index: number): string[] {
  switch (request.kind) {
    case 'file':
      return [`f ${index} ${quote(request.path)}`];
    case 'glob':
      // The pattern comes from module code, not from playbooks, so it is expanded unquoted.
      return [
        `for p in ${request.pattern}; do`,
        `  [ -f "$p" ] || continue`,
        `  m ${index} path; printf '%s' "$p"`,
        `  f ${index} "$p"`,
        `done`,
      ];
    case 'stat':
      return [`s ${index} ${quote(request.path)}`];
    case 'cmd':
    case 'script': {
      if (request.kind === 'script' && request.builtins) {
        // a group in the batch's own shell: no process at all
        return [`m ${index} stdout; e c${index}; {`, request.script.replace(/\n$/, ''), `} </dev/null; m ${index} exit $?`];
      }
      const command = request.kind === 'cmd' ? joinArgv(request.argv) : joinArgv(['sh', '-c', request.script]);
      // A subshell around a simple command costs no process of its own (the shell execs the
      // command in it), and keeps a builtin such as `exit` from ending the batch.
      return [`m ${index} stdout; e c${index}; (${command}) </dev/null; m ${index} exit $?`];
    }
  }
}

/** The script for a batch; see batchCommandLine for how it is started. */
export function buildReadScript(requests: readonly ReadRequest[], nonce: string): string {
  checkNonce(nonce);
  return [
    `N=${nonce}`,
    'k=0',
    `m() { printf '\\n@%s@ %s\\n' "$N" "$*"; }`,
    `e() { printf '\\n@%s@ %s\\n' "$N" "$*" >&2; }`,
    // A file's bytes to stdout. Text only: bash drops NUL bytes, sh's read ends its line at one.
    // l(): line by line with `read`, the last line keeping its missing newline; a read error is
    // reported on stderr. bash reads a regular file up to each NUL, so whole, with one `read`
    // (eight times faster than l() on a 37 kB qemu.conf, three times faster than mapfile, but silent
    // about an I/O error: a write built on such a read is refused anyway, its expected sha256 no
    // longer matching the file).
    `l() { while IFS= read -r v; do printf '%s\\n' "$v"; done; [ -z "$v" ] || printf '%s' "$v"; }`,
    'if [ -n "${BASH_VERSION-}" ]; then',
    `  r() { while IFS= read -r -d '' v; do printf '%s' "$v"; done; printf '%s' "$v"; }`,
    '  p() { l; }',
    'else',
    '  r() { l; }',
    '  p() { cat; }',
    'fi',
    // Why a file could not be read goes to its stderr block: an empty block is a clean read.
    `f() { k=$((k+1)); if [ -d "$2" ]; then m "$1" file $k; e r$k; printf '%s: Is a directory' "$2" >&2; elif [ -e "$2" ]; then m "$1" file $k; e r$k; case $2 in /proc/*|/sys/*) p <"$2" ;; *) r <"$2" ;; esac; else m "$1" absent; fi; }`,
    // s(): a path's type by builtins (a symlink never followed), and whether a directory is empty.
    `s() { m "$1" stat; if [ -L "$2" ]; then echo type=symlink; elif [ -d "$2" ]; then echo type=directory; z=1; for x in "$2"/* "$2"/.[!.]* "$2"/..?*; do if [ -e "$x" ] || [ -L "$x" ]; then z=0; break; fi; done; echo empty=$z; elif [ -f "$2" ]; then echo type=file; elif [ -e "$2" ]; then echo type=other; else echo type=absent; fi; }`,
    ...requests.flatMap((request, index) => requestLines(request, index)),
    ...modeLines(requests),
    'e done',
    'm done',
    '',
  ].join('\n');
}

/** The format of the one `stat` of a batch: mode, ids, names, then the path as given. */
const STAT_FORMAT = '%a %u %g %U %G %n';

/** Every stat request's path, once, in order. */
function statPaths(requests: readonly ReadRequest[]): string[] {
  return [...new Set(requests.flatMap((r) => (r.kind === 'stat' ? [r.path] : [])))];
}

/** Modes and owners of every stat request's path in one process; a path that is absent is skipped by stat. */
function modeLines(requests: readonly ReadRequest[]): string[] {
  const paths = statPaths(requests);
  if (paths.length === 0) return [];
  return [`m modes; stat -c ${quote(STAT_FORMAT)} -- ${paths.map(quote).join(' ')} 2>/dev/null`];
}

/**
 * path → `mode uid gid user group` from the batch's stat output. stat prints the paths it could
 * stat in the order given, each line ending with the path itself: walking the paths in order and
 * matching each line's end against the next one is exact even for a path with a newline in it.
 */
function parseModes(output: string, paths: string[]): Map<string, string> {
  const modes = new Map<string, string>();
  let at = 0;
  for (const path of paths) {
    const fields = /^([0-7]+) (\d+) (\d+) (\S+) (\S+) /.exec(output.slice(at));
    if (!fields) break;
    const end = at + fields[0].length + path.length;
    if (output.slice(at + fields[0].length, end) !== path || (output[end] !== '\n' && end !== output.length)) continue;
    modes.set(path, fields.slice(1).join(' '));
    at = end + 1;
  }
  return modes;
}

/** The largest script passed on the command line (one argument may not exceed 128 KiB on Linux). */
const MAX_INLINE_SCRIPT = 64 * 1024;

/**
 * The command line that runs a batch script, and the stdin it needs. A clean shell is exec'd in
 * place of the login shell sshd started: bash without its rc files or BASH_ENV when the host has
 * it, sh otherwise. The script travels as an argument (bash reads a script on stdin a byte at a
 * time); one too large for an argument goes on stdin.
 */
export function batchCommandLine(script: string): { line: string; stdin?: string } {
  const start = (args: string) =>
    `unset BASH_ENV ENV; command -v bash >/dev/null 2>&1 && exec bash --noprofile --norc ${args}; exec sh ${args}`;
  if (Buffer.byteLength(script) > MAX_INLINE_SCRIPT) return { line: start('-s'), stdin: script };
  return { line: `S=${quote(script)}; ${start('-c "$S"')}` };
}

/** Blocks of one stream: header → payloads in order, and whether the `done` marker came. */
function splitBlocks(stream: string, nonce: string): { blocks: { header: string[]; payload: string }[]; complete: boolean } {
  const pieces = stream.split(`\n@${nonce}@ `);
  // pieces[0] is whatever the login shell printed before the script started: not ours.
  const blocks: { header: string[]; payload: string }[] = [];
  let complete = false;
  for (const piece of pieces.slice(1)) {
    const eol = piece.indexOf('\n');
    const header = (eol < 0 ? piece : piece.slice(0, eol)).split(' ');
    if (header[0] === 'done') complete = true;
    else blocks.push({ header, payload: eol < 0 ? '' : piece.slice(eol + 1) });
  }
  return { blocks, complete };
}

/** Split the script's output back into one result per request, in request order. */
export function parseReadOutput(stdout: string, requests: readonly ReadRequest[], nonce: string, stderr = ''): ReadResult[] {
  checkNonce(nonce);
  const out = splitBlocks(stdout, nonce);
  if (!out.complete) throw new HvtuneError('batched read output is incomplete (the remote script stopped early)');
  const errors = new Map(splitBlocks(stderr, nonce).blocks.map((b) => [b.header[0], b.payload]));
  const byIndex = new Map<number, { tag: string; arg: string; payload: string }[]>();
  let modes = new Map<string, string>();
  for (const { header, payload } of out.blocks) {
    if (header[0] === 'modes') {
      modes = parseModes(payload, statPaths(requests));
      continue;
    }
    const index = Number(header[0]);
    const list = byIndex.get(index) ?? [];
    list.push({ tag: header[1] ?? '', arg: header[2] ?? '', payload });
    byIndex.set(index, list);
  }
  return requests.map((request, index): ReadResult => {
    const blocks = byIndex.get(index) ?? [];
    blocks.forEach((block, at) => {
      const why = block.tag === 'file' ? errors.get(`r${block.arg}`) : undefined;
      if (!why) return;
      const path = request.kind === 'file' ? request.path : blocks[at - 1]?.payload;
      throw new HvtuneError(`cannot read ${path}: ${why.trim()}`);
    });
    switch (request.kind) {
      case 'file': {
        const [block] = blocks;
        if (!block) throw new HvtuneError(`batched read returned nothing for ${request.path}`);
        return { kind: 'file', path: request.path, content: block.tag === 'absent' ? null : block.payload };
      }
      case 'stat': {
        const block = blocks.find((b) => b.tag === 'stat');
        if (!block) throw new HvtuneError(`batched read returned nothing for ${request.path}`);
        const mode = modes.get(request.path);
        const statted = mode !== undefined && !/^type=(symlink|absent)$/m.test(block.payload);
        return { kind: 'stat', path: request.path, state: block.payload + (statted ? `stat=${mode}\n` : '') };
      }
      case 'glob': {
        const pairs: [string, string][] = [];
        for (let i = 0; i + 1 < blocks.length; i += 2) {
          if (blocks[i].tag === 'path' && blocks[i + 1].tag === 'file') pairs.push([blocks[i].payload, blocks[i + 1].payload]);
        }
        pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return { kind: 'glob', pattern: request.pattern, files: Object.fromEntries(pairs) };
      }
      case 'cmd':
      case 'script': {
        const part = (tag: string) => blocks.find((b) => b.tag === tag);
        const exit = part('exit');
        if (!exit) throw new HvtuneError(`batched read returned no exit status for request ${index}`);
        return {
          kind: request.kind,
          stdout: part('stdout')?.payload ?? '',
          stderr: errors.get(`c${index}`) ?? '',
          code: Number(exit.arg),
          signal: null,
        };
      }
    }
  });
}
