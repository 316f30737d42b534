// The read phase in one round trip: every ReadRequest of a host becomes one POSIX sh script (dash
// is enough) whose stdout splits back exactly into ReadResults.
//
// Output format: a sequence of blocks, each opened by a marker line `\n@NONCE@ <index> <tag> [n]\n`
// and closed by the next marker. The script prints the newline before each marker itself, so a
// payload is exactly the bytes between one marker line and the next `\n@NONCE@ `: a file without
// a trailing newline stays so. The nonce is random per batch, so no file content can forge a
// marker. The last marker is `done`, so truncated output is detected instead of misread.

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

/**
 * Lines of shell for one request. `m TAG…` prints a marker; files use `f PATH`; commands run with
 * stdin from /dev/null (the batch may itself arrive on stdin) and their stderr kept apart.
 */
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
    case 'cmd':
    case 'script': {
      const command = request.kind === 'cmd' ? joinArgv(request.argv) : joinArgv(['sh', '-c', request.script]);
      return [`(${command}) </dev/null >"$T/o" 2>"$T/e"; c ${index} $?`];
    }
  }
}

/** The script for a batch; run it with `sh -s` (script on stdin) or `sh -c`. */
export function buildReadScript(requests: readonly ReadRequest[], nonce: string): string {
  checkNonce(nonce);
  const needsTemp = requests.some((r) => r.kind === 'cmd' || r.kind === 'script');
  const lines = [
    `N=${nonce}`,
    `m() { printf '\\n@%s@ %s\\n' "$N" "$*"; }`,
    // A file's bytes through shell builtins only: a read of forty files starts no process (a `cat`
    // each was most of a converged run's cost on the hosts). The last line keeps its missing
    // newline. Text only: a NUL byte would end its line early. Not for /proc and /sys: the shell
    // reads a byte at a time, and a sysctl file read at an offset past 0 says end of file.
    `r() { while IFS= read -r l; do printf '%s\\n' "$l"; done; [ -z "$l" ] || printf '%s' "$l"; }`,
    // Or why it could not be read: the message is the payload, then an error marker.
    `f() { if [ -d "$2" ]; then m "$1" file; printf '%s: Is a directory' "$2"; m "$1" error; elif [ -e "$2" ]; then m "$1" file; case $2 in /proc/*|/sys/*) cat -- "$2" 2>&1 ;; *) { r <"$2"; } 2>&1 ;; esac || m "$1" error; else m "$1" absent; fi; }`,
  ];
  if (needsTemp) {
    lines.push(
      `T="\${TMPDIR:-/tmp}/hvtune-read.$$.$N"`,
      `mkdir -m 700 "$T" || { m fatal; echo "cannot create $T"; exit 97; }`,
      `trap 'rm -rf "$T"' EXIT`,
      `c() { m "$1" stdout; r <"$T/o"; m "$1" stderr; r <"$T/e"; m "$1" exit "$2"; }`,
    );
  }
  requests.forEach((request, index) => lines.push(...requestLines(request, index)));
  lines.push('m done', '');
  return lines.join('\n');
}

interface Block {
  index: number;
  tag: string;
  arg: string;
  payload: string;
}

function splitBlocks(stdout: string, nonce: string): Block[] {
  const pieces = stdout.split(`\n@${nonce}@ `);
  // pieces[0] is whatever the login shell printed before the script started: not ours.
  const blocks: Block[] = [];
  let complete = false;
  for (const piece of pieces.slice(1)) {
    const eol = piece.indexOf('\n');
    const header = eol < 0 ? piece : piece.slice(0, eol);
    const payload = eol < 0 ? '' : piece.slice(eol + 1);
    const [first, tag = '', arg = ''] = header.split(' ');
    if (first === 'done') complete = true;
    else if (first === 'fatal') throw new HvtuneError(`batched read failed: ${payload.trim()}`);
    else blocks.push({ index: Number(first), tag, arg, payload });
  }
  if (!complete) throw new HvtuneError('batched read output is incomplete (the remote script stopped early)');
  return blocks;
}

/** Split the script's stdout back into one result per request, in request order. */
export function parseReadOutput(stdout: string, requests: readonly ReadRequest[], nonce: string): ReadResult[] {
  checkNonce(nonce);
  const byIndex = new Map<number, Block[]>();
  for (const block of splitBlocks(stdout, nonce)) {
    const list = byIndex.get(block.index) ?? [];
    list.push(block);
    byIndex.set(block.index, list);
  }
  return requests.map((request, index): ReadResult => {
    const blocks = byIndex.get(index) ?? [];
    const failure = blocks.find((b) => b.tag === 'error');
    if (failure) {
      const at = blocks.indexOf(failure);
      const path = request.kind === 'file' ? request.path : blocks[at - 2]?.payload;
      throw new HvtuneError(`cannot read ${path}: ${blocks[at - 1]?.payload.trim() || 'unknown error'}`);
    }
    switch (request.kind) {
      case 'file': {
        const block = blocks[0];
        if (!block) throw new HvtuneError(`batched read returned nothing for ${request.path}`);
        return { kind: 'file', path: request.path, content: block.tag === 'absent' ? null : block.payload };
      }
      case 'glob': {
        const files: Record<string, string> = {};
        const pairs: [string, string][] = [];
        for (let i = 0; i + 1 < blocks.length; i += 2) {
          if (blocks[i + 1].tag === 'file') pairs.push([blocks[i].payload, blocks[i + 1].payload]);
        }
        pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        for (const [path, content] of pairs) files[path] = content;
        return { kind: 'glob', pattern: request.pattern, files };
      }
      case 'cmd':
      case 'script': {
        const part = (tag: string) => blocks.find((b) => b.tag === tag);
        const exit = part('exit');
        if (!exit) throw new HvtuneError(`batched read returned no exit status for request ${index}`);
        return {
          kind: request.kind,
          stdout: part('stdout')?.payload ?? '',
          stderr: part('stderr')?.payload ?? '',
          code: Number(exit.arg),
          signal: null,
        };
      }
    }
  });
}
