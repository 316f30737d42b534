// command: run one program (argv, never through a shell), mostly from handlers —
// `command: {argv: [udevadm, trigger]}` after a udev rule changed. Not declarative by nature: it is
// a change on every run unless `creates` / `removes` say the work is already done.

import type { Advice, ArgLeaf, Change, HostHandle, Module, PlanResult, ReadRequest, ReadResult } from '../src/module.js';
import { IFCONFIG_TXQUEUELEN } from '../src/dated.js';
import { ApplyVerifyError, RemoteCommandError } from '../src/errors.js';
import { joinArgv, sh } from '../src/quote.js';
import { ABSOLUTE_PATH_PATTERN } from './lib/file-state.js';

export interface CommandArgs {
  argv: string[];
  creates?: string;
  removes?: string;
  chdir?: string;
}

export interface CommandObserved {
  /** Whether `creates` exists (null when not asked). */
  createsExists: boolean | null;
  /** Whether `removes` exists (null when not asked). */
  removesExists: boolean | null;
}

export const command = {
  name: 'command',
  description: 'Run a program with arguments (no shell); a change on every run unless creates/removes say it is done',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['argv'],
    properties: {
      argv: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', pattern: '^[^\\u0000]*$' },
        description:
          'Program (a name found in PATH or an absolute path) and arguments, each passed as one word: quoted for the ' +
          'remote shell, never interpreted by it (no pipes, redirections or variables)',
      },
      creates: {
        type: 'string',
        pattern: ABSOLUTE_PATH_PATTERN,
        description: 'Skip the command when this path exists; after it ran, the path must exist',
      },
      removes: { type: 'string', pattern: ABSOLUTE_PATH_PATTERN, description: 'Run the command only when this path exists' },
      chdir: { type: 'string', pattern: ABSOLUTE_PATH_PATTERN, description: 'Directory to run the command in' },
    },
  },

  validate(args: CommandArgs) {
    // the program is a plain name or path, never shell syntax: the second wall behind quoting
    if (!/^[A-Za-z0-9_./+-]{1,255}$/.test(args.argv[0] ?? '')) {
      return [
        {
          path: 'argv/0',
          message: `the program must be a name or a path (letters, digits, _ . / + -), got ${JSON.stringify(args.argv[0])}`,
        },
      ];
    }
    return [];
  },

  /** `ifconfig IF txqueuelen N` as argv: the words are separate arguments, not one text. */
  advise(leaf: ArgLeaf, args: CommandArgs, generic: Advice[]): Advice[] {
    const program = leaf.path[0] === 'argv' && leaf.path[1] === 0;
    const dated = program && /(^|\/)ifconfig$/.test(leaf.text) && Array.isArray(args.argv) && args.argv.includes('txqueuelen');
    return dated ? [...generic, IFCONFIG_TXQUEUELEN] : generic;
  },

  read(args: CommandArgs): ReadRequest[] {
    if (args.creates === undefined && args.removes === undefined) return [];
    const lines: string[] = [];
    if (args.creates !== undefined) lines.push(sh`if [ -e ${args.creates} ]; then echo creates=1; else echo creates=0; fi`);
    if (args.removes !== undefined) lines.push(sh`if [ -e ${args.removes} ]; then echo removes=1; else echo removes=0; fi`);
    return [{ kind: 'script', script: lines.join('\n') + '\n' }];
  },

  parse(_args: CommandArgs, results: ReadResult[]): CommandObserved {
    const r = results[0];
    const out = r && (r.kind === 'script' || r.kind === 'cmd') ? r.stdout : '';
    const flag = (key: string) => {
      const m = new RegExp(`^${key}=([01])$`, 'm').exec(out);
      return m ? m[1] === '1' : null;
    };
    return { createsExists: flag('creates'), removesExists: flag('removes') };
  },

  plan(args: CommandArgs, observed: CommandObserved): PlanResult {
    if (args.creates !== undefined && observed.createsExists === true) return { changes: [] };
    if (args.removes !== undefined && observed.removesExists === false) return { changes: [] };
    const line = joinArgv(args.argv);
    return {
      changes: [
        {
          summary: `run ${line}${args.chdir ? ` in ${args.chdir}` : ''}`,
          target: `command:${line}`,
          effect: 'live',
          data: { argv: args.argv, chdir: args.chdir ?? null },
        },
      ],
    };
  },

  async apply(changes: Change[], host: HostHandle, args: CommandArgs): Promise<void> {
    for (const c of changes) {
      const { argv, chdir } = c.data as { argv: string[]; chdir: string | null };
      if (chdir === null) {
        await host.run(argv);
      } else {
        const r = await host.sh(sh`cd ${chdir} && exec ${argv}`);
        if (r.code !== 0) throw new RemoteCommandError(host.name, `cd ${chdir} && ${joinArgv(argv)}`, r.code, r.stderr, r.stdout);
      }
      if (args.creates !== undefined) {
        const r = await host.exec(['test', '-e', args.creates]);
        // otherwise the command would run again on every run
        if (r.code !== 0)
          throw new ApplyVerifyError(
            host.name,
            c.target,
            `${args.creates} exists`,
            `${args.creates} missing`,
            'the command did not create it',
          );
      }
    }
  },
} satisfies Module<CommandArgs, CommandObserved>;

export default command;
