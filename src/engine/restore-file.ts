// The engine's own module: put a file back as it was before a recorded run, if the run's content
// is still there. Rollback plans use it for file diffs no module restores itself.

import type { Module } from '../module.js';
import { ApplyVerifyError, TaskError } from '../errors.js';

export interface RestoreFileArgs {
  path: string;
  /** what the run left in the file (null: it removed it) */
  expect: string | null;
  /** what was there before the run (null: the file did not exist) */
  content: string | null;
}

export const RESTORE_FILE_MODULE = {
  name: 'hvtune.restore-file',
  description: 'Restore a file to its content before a recorded run (rollback plans)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path', 'expect', 'content'],
    properties: {
      path: { type: 'string', pattern: '^/', description: 'Absolute path' },
      expect: { type: ['string', 'null'], description: 'Content the run left' },
      content: { type: ['string', 'null'], description: 'Content before the run; null removes the file' },
    },
  },
  read: (args) => [{ kind: 'file', path: args.path }],
  parse: (_args, results) => ({ content: results[0]?.kind === 'file' ? results[0].content : null }),
  plan(args, observed) {
    if (observed.content === args.content) return { changes: [] };
    if (observed.content !== args.expect) {
      throw new TaskError(
        `${args.path} changed since the run: it no longer has the content the run wrote, so restoring it would lose that change`,
      );
    }
    const summary = args.content === null ? `remove ${args.path} (the run created it)` : `restore ${args.path}`;
    return {
      changes: [
        { summary, target: args.path, effect: 'persistent', diff: { path: args.path, before: observed.content, after: args.content } },
      ],
    };
  },
  async apply(_changes, host, args) {
    // The file the run created holds what the run wrote, which its record keeps: no backup of it.
    if (args.content === null) await host.removeFile(args.path, { backup: false });
    else await host.writeFile(args.path, args.content);
    const [now] = await host.read([{ kind: 'file', path: args.path }]);
    const content = now?.kind === 'file' ? now.content : null;
    if (content !== args.content)
      throw new ApplyVerifyError(
        host.name,
        args.path,
        args.content === null ? 'absent' : 'restored content',
        content === null ? 'absent' : 'other content',
      );
  },
} satisfies Module<RestoreFileArgs, { content: string | null }>;

/** Modules of the registry plus the engine's own (file restore of rollbacks). */
export function resolveModule(modules: ReadonlyMap<string, Module>, name: string): Module | undefined {
  return modules.get(name) ?? (name === RESTORE_FILE_MODULE.name ? RESTORE_FILE_MODULE : undefined);
}
