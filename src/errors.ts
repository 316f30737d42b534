// A few typed errors, each with a one-line summary and details, keeping `cause`.

export interface SourcePosition {
  file: string;
  line: number;
  column: number;
  /** For a file another one pulled in (import_tasks, profiles…): where it was included, innermost first. */
  via?: SourcePosition[];
}

const at = (p: SourcePosition) => `${p.file}:${p.line}:${p.column}`;

export class HvtuneError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem in the user's input, located in a file. */
export interface InputProblem {
  pos?: SourcePosition;
  /** Path of the offending key, as people read it: `plays[0].tasks[2].sysctl.values`. */
  path?: string;
  message: string;
  /** warnings do not fail validation */
  severity?: 'error' | 'warning';
}

export function formatProblem(p: InputProblem): string {
  const where = p.pos ? at(p.pos) : '';
  const head = [where, p.path].filter(Boolean).join(' ');
  const chain = p.pos?.via?.length ? ` (${p.pos.via.map((v) => `included from ${at(v)}`).join(', ')})` : '';
  return (head ? `${head}: ${p.message}` : p.message) + chain;
}

/** Invalid inventory, playbook, arguments or templates. Carries every problem found at once. */
export class InputError extends HvtuneError {
  constructor(readonly problems: InputProblem[]) {
    super(
      problems.length === 1
        ? formatProblem(problems[0])
        : `${problems.length} problems:\n` + problems.map((p) => '  ' + formatProblem(p)).join('\n'),
    );
  }
}

export class ConnectError extends HvtuneError {
  constructor(
    readonly host: string,
    message: string,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(`${host}: ${message}`, options?.detail, options);
  }
}

export class RemoteCommandError extends HvtuneError {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
    readonly stdout = '',
  ) {
    super(`${host}: command failed with exit code ${code}: ${command}` + (stderr.trim() ? `\n${stderr.trimEnd()}` : ''));
  }
}

/** A value read back after apply is not what the plan said it would be. */
export class ApplyVerifyError extends HvtuneError {
  constructor(
    readonly host: string,
    readonly target: string,
    readonly expected: string | null,
    readonly actual: string | null,
    hint?: string,
  ) {
    super(`${host}: ${target} is ${JSON.stringify(actual)} after apply, expected ${JSON.stringify(expected)}` + (hint ? ` (${hint})` : ''));
  }
}

/** A task that cannot be planned or applied on this host (missing key, unsupported option…). */
export class TaskError extends HvtuneError {}

/** A write found its file changed on the host since the plan read it, and left it as it was. */
export class StaleWriteError extends HvtuneError {
  constructor(
    readonly host: string,
    readonly path: string,
  ) {
    super(`${host}: ${path} changed on the host since it was read: re-run to plan again (it was left as it is)`);
  }
}
