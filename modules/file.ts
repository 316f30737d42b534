// file: a whole file's content (or a rendered template), its mode and owner; a directory; or
// nothing at that path. The escape hatch for settings no module covers, with diffs in check mode.

import type { Change, HostHandle, Module, PlanResult, ReadRequest, ReadResult } from '../src/module.js';
import { ApplyVerifyError, TaskError } from '../src/errors.js';
import { adviseOnFile } from './lib/advice.js';
import { normaliseMode, modeProblem } from './lib/mode.js';
import {
  ABSOLUTE_PATH_PATTERN,
  ACCOUNT_PATTERN,
  type FileState,
  fileStateFromResults,
  fileStateRequests,
  fileStateScript,
  readFileState,
  sameAccount,
} from './lib/file-state.js';

export interface FileArgs {
  path: string;
  state?: 'file' | 'absent' | 'directory';
  content?: string;
  /** Resolved into `content` by the engine before the module sees the task (lib/template-file.ts). */
  template?: string;
  mode?: string | number;
  owner?: string;
  group?: string;
  backup?: boolean;
}

/** What apply does for one change; planned once so check mode and apply cannot disagree. */
type FileOp =
  | { op: 'write'; content: string; mode: string | null; owner: string | null; group: string | null }
  | { op: 'mkdir'; mode: string | null; owner: string | null; group: string | null }
  | { op: 'chmod'; mode: string }
  | { op: 'chown'; owner: string | null; group: string | null }
  | { op: 'remove' | 'rmdir' | 'unlink' };

const DEFAULT_FILE_MODE = 0o644;
const DEFAULT_DIR_MODE = 0o755;

export const file = {
  name: 'file',
  description: 'A file with given content (or rendered template), mode and owner; a directory; or an absent path',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', pattern: ABSOLUTE_PATH_PATTERN, description: 'Absolute path on the host' },
      state: {
        enum: ['file', 'absent', 'directory'],
        default: 'file',
        description:
          'file: a regular file (created empty when no content is given); directory: created with parents; ' +
          'absent: a file or an EMPTY directory is removed (a non-empty directory is an error)',
      },
      content: { type: 'string', description: 'Exact content of the file; check mode shows a unified diff' },
      template: {
        type: 'string',
        pattern: '^[^\\0]{1,4096}$',
        description: 'Local Handlebars template file (relative to the playbook), rendered with the task variables into content',
      },
      mode: {
        type: ['string', 'integer'],
        description:
          'Octal string "0644"/"644"/"1770", symbolic "u=rw,go=r" or "g+w", or the integer value (420). ' +
          'Quote octal modes: YAML reads an unquoted 0644 as the decimal 644',
      },
      owner: { type: 'string', pattern: ACCOUNT_PATTERN, description: 'User name or numeric uid' },
      group: { type: 'string', pattern: ACCOUNT_PATTERN, description: 'Group name or numeric gid' },
      backup: {
        type: 'boolean',
        default: true,
        description: 'Keep the previous version under /var/lib/hvtune/backups when the content changes or the file is removed',
      },
    },
  },

  validate(args: FileArgs) {
    const problems: { path: string; message: string }[] = [];
    if (args.mode !== undefined) {
      const p = modeProblem(args.mode);
      if (p) problems.push({ path: 'mode', message: p });
    }
    if (args.content !== undefined && args.template !== undefined) {
      problems.push({ path: 'content', message: 'give either content or template, not both' });
    }
    const state = args.state ?? 'file';
    if (state !== 'file' && (args.content !== undefined || args.template !== undefined)) {
      problems.push({ path: 'state', message: `content and template need state: file, not state: ${state}` });
    }
    if (state === 'absent' && (args.mode !== undefined || args.owner !== undefined || args.group !== undefined)) {
      problems.push({ path: 'state', message: 'mode, owner and group make no sense with state: absent' });
    }
    return problems;
  },

  /** `template:` is a local file, rendered by the engine's templates into `content`. */
  resolve(args: FileArgs, local: { readFile(path: string): string; render(text: string, name: string): string }): FileArgs {
    if (args.template === undefined || args.content !== undefined) return args;
    const { template, ...rest } = args;
    return { ...rest, content: local.render(local.readFile(template), template) };
  },

  /** The local template, when its name is not itself a template. */
  localInputs(args: FileArgs): string[] {
    return typeof args.template === 'string' && !args.template.includes('{{') ? [args.template] : [];
  },

  advise: adviseOnFile,

  read(args: FileArgs): ReadRequest[] {
    const state = args.state ?? 'file';
    // a removal reads what it removes (with the stat, a directory has none): its diff's before is
    // what the removal expects to find and what a rollback puts back
    if (state === 'absent') return [{ kind: 'script', script: fileStateScript(args.path, { content: true }) }];
    return fileStateRequests(args.path, { content: state === 'file' && args.content !== undefined });
  },

  parse(_args: FileArgs, results: ReadResult[]): FileState {
    return fileStateFromResults(results);
  },

  plan(args: FileArgs, observed: FileState): PlanResult {
    const state = args.state ?? 'file';
    const path = args.path;
    if (args.template !== undefined) {
      throw new TaskError(`${path}: the template ${args.template} was not rendered into content before planning`);
    }
    if (observed.type === 'symlink' || observed.type === 'other') {
      if (state === 'absent' && observed.type === 'symlink') {
        return { changes: [change(`remove symbolic link ${path}`, path, { op: 'unlink' })] };
      }
      throw new TaskError(
        `${path} is a ${observed.type === 'symlink' ? 'symbolic link' : 'special file'}; hvtune does not follow or replace it`,
      );
    }
    if (state === 'absent') return { changes: planAbsent(path, observed) };

    const wantType = state === 'directory' ? 'directory' : 'file';
    if (observed.type !== 'absent' && observed.type !== wantType) {
      throw new TaskError(`${path} is a ${observed.type}, but the task wants a ${wantType}`);
    }
    const current = observed.mode === null ? (wantType === 'directory' ? DEFAULT_DIR_MODE : DEFAULT_FILE_MODE) : parseInt(observed.mode, 8);
    const mode = args.mode === undefined ? null : normaliseMode(args.mode, current, wantType === 'directory');
    const attrs = { mode: mode ?? observed.mode, owner: args.owner ?? observed.owner, group: args.group ?? observed.group };

    if (observed.type === 'absent') {
      const how = [mode && `mode ${mode}`, args.owner && `owner ${args.owner}`, args.group && `group ${args.group}`]
        .filter(Boolean)
        .join(', ');
      if (wantType === 'directory') {
        return { changes: [change(`create directory ${path}${how ? ` (${how})` : ''}`, path, { op: 'mkdir', ...attrs })] };
      }
      const content = args.content ?? '';
      return {
        changes: [
          {
            ...change(`create ${path}${how ? ` (${how})` : ''}`, path, { op: 'write', content, ...attrs }),
            diff: { path, before: null, after: content },
          },
        ],
      };
    }

    const changes: Change[] = [];
    if (wantType === 'file' && args.content !== undefined && observed.content !== args.content) {
      changes.push({
        ...change(`write ${path}`, path, { op: 'write', content: args.content, ...attrs }),
        diff: { path, before: observed.content, after: args.content },
      });
    }
    if (mode !== null && mode !== observed.mode) {
      changes.push({ ...change(`chmod ${mode} ${path}`, `${path}:mode`, { op: 'chmod', mode }), before: observed.mode, after: mode });
    }
    const ownerDiffers = args.owner !== undefined && !sameAccount(args.owner, observed.owner, observed.uid);
    const groupDiffers = args.group !== undefined && !sameAccount(args.group, observed.group, observed.gid);
    if (ownerDiffers || groupDiffers) {
      const before = `${observed.owner}:${observed.group}`;
      const after = `${args.owner ?? observed.owner}:${args.group ?? observed.group}`;
      changes.push({
        ...change(`chown ${after} ${path}`, `${path}:owner`, {
          op: 'chown',
          owner: ownerDiffers ? args.owner! : null,
          group: groupDiffers ? args.group! : null,
        }),
        before,
        after,
      });
    }
    return { changes };
  },

  async apply(changes: Change[], host: HostHandle, args: FileArgs): Promise<void> {
    const path = args.path;
    const backup = args.backup ?? true;
    for (const c of changes) {
      const op = c.data as FileOp;
      switch (op.op) {
        case 'write':
          // writeFile keeps the old file's mode and owner unless told otherwise
          await host.writeFile(path, op.content, {
            backup,
            ...(op.mode !== null ? { mode: parseInt(op.mode, 8) } : {}),
            ...(op.owner !== null ? { owner: op.owner } : {}),
            ...(op.group !== null ? { group: op.group } : {}),
          });
          break;
        case 'mkdir':
          await host.run(['mkdir', '-p', '--', path]);
          await setAttributes(host, path, op);
          break;
        case 'chmod':
          await host.run(['chmod', op.mode, '--', path]);
          break;
        case 'chown':
          await host.run(['chown', `${op.owner ?? ''}${op.group === null ? '' : ':' + op.group}`, '--', path]);
          break;
        case 'remove':
          await host.removeFile(path, { backup });
          break;
        case 'rmdir':
          await host.run(['rmdir', '--', path]);
          break;
        case 'unlink':
          await host.run(['rm', '--', path]);
          break;
      }
    }
    if (changes.length) await verify(host, args, changes);
  },
} satisfies Module<FileArgs, FileState>;

function change(summary: string, target: string, op: FileOp): Change {
  return { summary, target, effect: 'persistent', data: op };
}

function planAbsent(path: string, observed: FileState): Change[] {
  if (observed.type === 'absent') return [];
  if (observed.type === 'directory') {
    if (observed.empty === false) {
      throw new TaskError(`${path} is a directory that is not empty; hvtune removes only empty directories`);
    }
    return [change(`remove directory ${path}`, path, { op: 'rmdir' })];
  }
  return [{ ...change(`remove ${path}`, path, { op: 'remove' }), diff: { path, before: observed.content, after: null } }];
}

async function setAttributes(host: HostHandle, path: string, a: { mode: string | null; owner: string | null; group: string | null }) {
  if (a.owner !== null || a.group !== null) {
    await host.run(['chown', `${a.owner ?? ''}${a.group === null ? '' : ':' + a.group}`, '--', path]);
  }
  // chmod after chown: chown clears setuid/setgid bits
  if (a.mode !== null) await host.run(['chmod', a.mode, '--', path]);
}

/** Read the path back and compare with what the plan promised. */
async function verify(host: HostHandle, args: FileArgs, changes: Change[]): Promise<void> {
  // a write proves what it installs on the host before its rename (bytes by sha256, the mode and
  // owners asked for by stat): only other operations are read back
  if (changes.every((c) => (c.data as FileOp).op === 'write')) return;
  const state = args.state ?? 'file';
  const wantContent = state === 'file' && changes.some((c) => (c.data as FileOp).op === 'write');
  const now = await readFileState(host, args.path, { content: wantContent });
  const expectType = state === 'directory' ? 'directory' : state === 'absent' ? 'absent' : 'file';
  if (now.type !== expectType) throw new ApplyVerifyError(host.name, args.path, expectType, now.type);
  for (const c of changes) {
    const op = c.data as FileOp;
    if (op.op === 'write' && now.content !== op.content) {
      throw new ApplyVerifyError(
        host.name,
        args.path,
        `${op.content.length} bytes written`,
        now.content === null ? null : `${now.content.length} bytes`,
        'content differs',
      );
    }
    const mode = op.op === 'chmod' || op.op === 'write' || op.op === 'mkdir' ? op.mode : null;
    if (mode !== null && now.mode !== mode) throw new ApplyVerifyError(host.name, `${args.path}:mode`, mode, now.mode);
    if ((op.op === 'chown' || op.op === 'write' || op.op === 'mkdir') && op.owner !== null && !sameAccount(op.owner, now.owner, now.uid)) {
      throw new ApplyVerifyError(host.name, `${args.path}:owner`, op.owner, now.owner);
    }
    if ((op.op === 'chown' || op.op === 'write' || op.op === 'mkdir') && op.group !== null && !sameAccount(op.group, now.group, now.gid)) {
      throw new ApplyVerifyError(host.name, `${args.path}:group`, op.group, now.group);
    }
  }
}

export default file;
