// lineinfile: one line of a file, found by a regular expression, with Ansible's semantics — the
// last matching line is replaced; otherwise the line is inserted after/before the last line
// matching insertafter/insertbefore (or at the end); absent removes every matching line.
// One deliberate difference: a line already present word for word is never added again, even
// when `regexp` does not match it, so a second run never duplicates it.
// Patterns run on RE2 (src/user-regexp.ts): linear time, so a pattern cannot stall the controller.

import type { Advice, ArgLeaf, Change, HostHandle, Module, PlanResult, ReadRequest, ReadResult } from '../src/module.js';
import { TaskError } from '../src/errors.js';
import { compileUserRegExp, userRegExpProblem, type UserRegExp } from '../src/user-regexp.js';
import { adviseOnFile } from './lib/advice.js';
import { ABSOLUTE_PATH_PATTERN, type FileState, fileStateFromResults, fileStateRequests } from './lib/file-state.js';

export interface LineInFileArgs {
  path: string;
  line?: string;
  regexp?: string;
  state?: 'present' | 'absent';
  insertafter?: string;
  insertbefore?: string;
  create?: boolean;
  backup?: boolean;
}

export interface LineEdit {
  /** New text, or null when nothing changes. */
  content: string | null;
  summary: string;
}

export const lineinfile = {
  name: 'lineinfile',
  description: 'Ensure one line is in a file (found by a regular expression) or that matching lines are gone',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', pattern: ABSOLUTE_PATH_PATTERN, description: 'Absolute path of the file on the host' },
      line: { type: 'string', pattern: '^[^\\n\\r]*$', description: 'The line (without newline) to have in the file' },
      regexp: {
        type: 'string',
        description:
          'Regular expression (RE2 syntax, linear time: no backreferences or lookaround) searched in each line; with state: present the ' +
          'LAST matching line is replaced by line, with state: absent every matching line is removed. It should match ' +
          'the line both before and after the change',
      },
      state: { enum: ['present', 'absent'], default: 'present', description: 'Whether the line must be in the file' },
      insertafter: {
        type: 'string',
        description:
          'EOF (default) or a regular expression (RE2 syntax): when nothing matches regexp, insert after the last line matching it (at the end if none does)',
      },
      insertbefore: {
        type: 'string',
        description:
          'BOF or a regular expression (RE2 syntax): when nothing matches regexp, insert before the last line matching it (at the end if none does)',
      },
      create: { type: 'boolean', default: false, description: 'Create the file when it does not exist (otherwise that is an error)' },
      backup: { type: 'boolean', default: true, description: 'Keep the previous version under /var/lib/hvtune/backups' },
    },
  },

  validate(args: LineInFileArgs) {
    const problems: { path: string; message: string }[] = [];
    for (const key of ['regexp', 'insertafter', 'insertbefore'] as const) {
      const value = args[key];
      if (value === undefined || (key === 'insertafter' && value === 'EOF') || (key === 'insertbefore' && value === 'BOF')) continue;
      const problem = userRegExpProblem(value);
      if (problem) problems.push({ path: key, message: `not a regular expression hvtune accepts: ${problem}` });
    }
    const state = args.state ?? 'present';
    if (state === 'present' && args.line === undefined) problems.push({ path: 'line', message: 'state: present needs line' });
    if (state === 'absent' && args.line === undefined && args.regexp === undefined) {
      problems.push({ path: 'regexp', message: 'state: absent needs regexp or line' });
    }
    if (args.insertafter !== undefined && args.insertbefore !== undefined) {
      problems.push({ path: 'insertbefore', message: 'give insertafter or insertbefore, not both' });
    }
    return problems;
  },

  advise(leaf: ArgLeaf, args: LineInFileArgs, generic: Advice[]): Advice[] {
    // a regexp finds the dated line (to replace or remove it); it does not set it
    return leaf.path[0] === 'regexp' ? [] : adviseOnFile(leaf, args, generic);
  },

  read(args: LineInFileArgs): ReadRequest[] {
    return fileStateRequests(args.path, { content: true });
  },

  parse(_args: LineInFileArgs, results: ReadResult[]): FileState {
    return fileStateFromResults(results);
  },

  plan(args: LineInFileArgs, observed: FileState): PlanResult {
    const state = args.state ?? 'present';
    if (observed.type === 'absent') {
      if (state === 'absent') return { changes: [] };
      if (!args.create) throw new TaskError(`${args.path} does not exist; set create: true to create it`);
    } else if (observed.type !== 'file') {
      throw new TaskError(`${args.path} is a ${observed.type}, not a regular file`);
    }
    const edit = editLines(observed.content, args);
    if (edit.content === null) return { changes: [] };
    const change: Change = {
      summary: edit.summary,
      target: args.path,
      effect: 'persistent',
      diff: { path: args.path, before: observed.type === 'absent' ? null : observed.content, after: edit.content },
      data: { content: edit.content },
    };
    return { changes: [change] };
  },

  async apply(changes: Change[], host: HostHandle, args: LineInFileArgs): Promise<void> {
    for (const c of changes) {
      const d = c.data as { content: string };
      // writeFile keeps the mode and owner of the file it replaces, and proves the bytes it
      // installs (their sha256, on the host, before the rename): no read after it
      await host.writeFile(args.path, d.content, { backup: args.backup ?? true });
    }
  },
} satisfies Module<LineInFileArgs, FileState>;

/** Lines of a text without their ends, and whether the text ended with a newline. */
function splitLines(text: string): { lines: string[]; finalNewline: boolean } {
  if (text === '') return { lines: [], finalNewline: true };
  const finalNewline = text.endsWith('\n');
  const lines = (finalNewline ? text.slice(0, -1) : text).split('\n');
  return { lines, finalNewline };
}

/** Compare a line without a Windows line end, as Ansible strips \r\n. */
const bare = (line: string) => line.replace(/\r$/, '');

function lastIndexMatching(lines: string[], re: UserRegExp): number {
  for (let i = lines.length - 1; i >= 0; i--) if (re.test(bare(lines[i]))) return i;
  return -1;
}

/** Pure: the file's new text after the edit, or null content when nothing changes. */
export function editLines(text: string | null, args: LineInFileArgs): LineEdit {
  const { lines, finalNewline } = splitLines(text ?? '');
  const join = (ls: string[]) => (ls.length === 0 ? '' : ls.join('\n') + (finalNewline ? '\n' : ''));
  const regexp = args.regexp === undefined ? null : compileUserRegExp(args.regexp);

  if ((args.state ?? 'present') === 'absent') {
    const keep = lines.filter((l) => !(regexp ? regexp.test(bare(l)) : bare(l) === args.line));
    const removed = lines.length - keep.length;
    if (removed === 0) return { content: null, summary: '' };
    return { content: join(keep), summary: `remove ${removed} line${removed === 1 ? '' : 's'} from ${args.path}` };
  }

  const line = args.line ?? '';
  const matched = regexp ? lastIndexMatching(lines, regexp) : -1;
  if (matched >= 0) {
    if (bare(lines[matched]) === line) return { content: null, summary: '' };
    const out = [...lines];
    out[matched] = lines[matched].endsWith('\r') ? line + '\r' : line;
    return { content: join(out), summary: `replace line ${matched + 1} of ${args.path}` };
  }
  if (lines.some((l) => bare(l) === line)) return { content: null, summary: '' };

  let at = lines.length;
  if (args.insertbefore === 'BOF') at = 0;
  else if (args.insertbefore !== undefined) {
    const i = lastIndexMatching(lines, compileUserRegExp(args.insertbefore));
    if (i >= 0) at = i;
  } else if (args.insertafter !== undefined && args.insertafter !== 'EOF') {
    const i = lastIndexMatching(lines, compileUserRegExp(args.insertafter));
    if (i >= 0) at = i + 1;
  }
  const out = [...lines.slice(0, at), line, ...lines.slice(at)];
  // appending to a file without a final newline ends the old last line first, never joins them
  const endsWithNewline = finalNewline || at === lines.length;
  const content = out.join('\n') + (endsWithNewline ? '\n' : '');
  return { content, summary: text === null ? `create ${args.path} with the line` : `add line ${at + 1} to ${args.path}` };
}

export default lineinfile;
