// Which assignments of one variable a shell runs when grub-mkconfig sources a GRUB defaults file
// (`. /etc/default/grub`, then /etc/default/grub.d/*.cfg). grub-mkconfig is a `#!/bin/sh` script:
// dash on Debian, bash on Red Hat, so only what both shells do alike is followed. A shape whose
// effect depends on what runs, or that one of the two shells rejects, is refused with file:line:
// an edit made beside an assignment the shell runs later would silently drop arguments.
//
// Followed: `V=…` at the start of any command — after `;`, `&&` behind commands that cannot fail
// (assignments, `true`, `:`), a newline or a continuation — and `export V=…` / `readonly V=…`.
// Refused: `V+=…` (bash appends, dash fails: write V="$V …"), V inside if/case/loops/`{ }`/`( )`/a
// function, after `||` or behind a command that may fail, in a pipeline or in the background, as a
// prefix of a command (`V=… cmd` sets it for that command only), `unset V`, `eval`/`read` of V,
// and a here-document. Not followed: files sourced with `.` (grub-mkconfig itself sources grub.d).

export interface ShellAssignment {
  /** Offsets of the value's source text (after `=`) up to the end of the shell word. */
  start: number;
  end: number;
  /** 1-based line of the variable name. */
  line: number;
}

type Token =
  | { kind: 'word'; text: string; start: number; end: number; substitution: boolean }
  | { kind: 'op'; text: string; start: number; end: number };

const OPENERS: Record<string, string> = { if: 'fi', case: 'esac', for: 'done', while: 'done', until: 'done', select: 'done', '{': '}' };
const CONTINUE_COMMAND = new Set(['then', 'else', 'elif', 'do', '!', 'in']);
const REDIRECTS = new Set(['<', '>', '>>', '<&', '>&', '<>', '>|']);
const NAME_ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)(\+?)=/;
const MODIFIERS = new Set(['unset', 'read', 'eval', 'local', 'declare', 'typeset', 'getopts']);
const ALWAYS_SUCCEEDS = new Set(['true', ':', 'export', 'readonly']);

const lineOf = (text: string, offset: number) => text.slice(0, offset).split('\n').length;

function tokenize(file: string, text: string): Token[] {
  const tokens: Token[] = [];
  const fail = (at: number, what: string): never => {
    throw new Error(`${file}:${lineOf(text, at)}: ${what}; the shell would not read this file as hvtune does, so hvtune does not edit it`);
  };
  let substitution = false;
  // Skips a quoted or nested part starting after its opening character; returns the offset after its end.
  const skip = (i: number, close: string, opened: number): number => {
    for (;;) {
      const c = text[i];
      if (c === undefined) return fail(opened, `unterminated ${text[opened] === '$' ? text.slice(opened, opened + 2) : text[opened]}`);
      if (close === "'" && c === "'") return i + 1;
      if (close === "'") {
        i++;
        continue;
      }
      if (c === close) return i + 1;
      if (c === '\\') i += 2;
      else if (c === "'" && close !== '"' && close !== '`') i = skip(i + 1, "'", i);
      else if (c === '"' && close !== '"') i = skip(i + 1, '"', i);
      else if (c === '`' && close !== '`') {
        substitution = true;
        i = skip(i + 1, '`', i);
      } else if (c === '$' && text[i + 1] === '(') {
        substitution = true;
        i = skip(i + 2, ')', i);
      } else if (c === '$' && text[i + 1] === '{') i = skip(i + 2, '}', i);
      else if (c === '(' && close === ')') i = skip(i + 1, ')', i);
      else i++;
    }
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && text[i + 1] === '\n') {
      i += 2;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    const op = /^(?:;;|&&|\|\||<<-?|>>|<&|>&|<>|>\||[\n;&|()<>])/.exec(text.slice(i, i + 3));
    if (op) {
      if (op[0].startsWith('<<')) fail(i, 'a here-document');
      tokens.push({ kind: 'op', text: op[0], start: i, end: i + op[0].length });
      i += op[0].length;
      continue;
    }
    const start = i;
    substitution = false;
    while (i < text.length && !/[\s;&|()<>]/.test(text[i])) {
      const w = text[i];
      if (w === '\\') {
        if (i + 1 >= text.length) fail(i, 'a line continuation at the end of the file');
        i += 2;
      } else if (w === "'") i = skip(i + 1, "'", i);
      else if (w === '"') i = skip(i + 1, '"', i);
      else if (w === '`') {
        substitution = true;
        i = skip(i + 1, '`', i);
      } else if (w === '$' && text[i + 1] === '(') {
        substitution = true;
        i = skip(i + 2, ')', i);
      } else if (w === '$' && text[i + 1] === '{') i = skip(i + 2, '}', i);
      else i++;
    }
    tokens.push({ kind: 'word', text: text.slice(start, i), start, end: i, substitution });
  }
  return tokens;
}

/** A command at the top level of the file: a simple command, or a compound one taken whole. */
interface Command {
  kind: 'simple' | 'compound';
  /** For a compound command: what it is (if … fi, a function), for messages. */
  construct?: string;
  words: Extract<Token, { kind: 'word' }>[];
  /** The operator before it in its and-or list ('' = first), and whether it sits in a pipeline or the background. */
  after: '' | '&&' | '||';
  piped: boolean;
  background: boolean;
  start: number;
}

function commands(tokens: Token[]): Command[] {
  const out: Command[] = [];
  let current: Command | null = null;
  let after: Command['after'] = '';
  let pipedNext = false;
  const stack: string[] = [];
  let commandPosition = true;
  // A function definition: 'name' waits for the name after `function`, 'body' for the body.
  let defining: 'name' | 'body' | null = null;
  let redirectTarget = false;
  const begin = (token: Token, kind: Command['kind'], construct?: string): Command => {
    const command: Command = { kind, construct, words: [], after, piped: pipedNext, background: false, start: token.start };
    out.push(command);
    current = command;
    return command;
  };
  const open = (closer: string) => {
    stack.push(closer);
    commandPosition = true;
    defining = null;
  };
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t];
    const next = tokens[t + 1];
    const command = current as Command | null;
    if (stack.length > 0) {
      // Inside a compound command: only its nesting matters here; its words are checked whole.
      if (token.kind === 'word') {
        command?.words.push(token);
        const top = stack[stack.length - 1];
        if (commandPosition && OPENERS[token.text]) stack.push(OPENERS[token.text]);
        else if (commandPosition && token.text === top) stack.pop();
        commandPosition = CONTINUE_COMMAND.has(token.text) || (commandPosition && OPENERS[token.text] !== undefined);
      } else {
        if (token.text === '(' && stack[stack.length - 1] !== 'esac') stack.push(')');
        else if (token.text === ')' && stack[stack.length - 1] === ')') stack.pop();
        commandPosition = !REDIRECTS.has(token.text);
      }
      continue;
    }
    if (token.kind === 'op') {
      if (REDIRECTS.has(token.text)) {
        redirectTarget = true;
        continue;
      }
      if (defining === 'body' && token.text === '\n') continue;
      if (
        token.text === '(' &&
        next?.kind === 'op' &&
        next.text === ')' &&
        command &&
        (command.words.length === 1 || defining === 'body')
      ) {
        // `name ( )` / `function name ( )`: the body comes next.
        command.kind = 'compound';
        command.construct = `the function ${command.words[command.words.length - 1].text}`;
        defining = 'body';
        t++;
        continue;
      }
      if (token.text === '(') {
        if (!(command && defining === 'body')) begin(token, 'compound', '( … )');
        open(')');
        continue;
      }
      if (command) {
        if (token.text === '|') command.piped = true;
        if (token.text === '&') command.background = true;
      }
      current = null;
      after = token.text === '&&' || token.text === '||' ? token.text : token.text === '|' ? after : '';
      pipedNext = token.text === '|';
      commandPosition = true;
      continue;
    }
    if (redirectTarget) {
      redirectTarget = false;
      continue;
    }
    // `2> /dev/null`: the digits are the redirection's, not a command word.
    if (/^\d+$/.test(token.text) && next?.kind === 'op' && REDIRECTS.has(next.text) && next.start === token.end) continue;
    if (defining === 'name') {
      command?.words.push(token);
      defining = 'body';
      continue;
    }
    if (defining === 'body' && command) {
      command.words.push(token);
      if (OPENERS[token.text]) open(OPENERS[token.text]);
      continue;
    }
    if (commandPosition && !command && OPENERS[token.text]) {
      begin(token, 'compound', `${token.text} … ${OPENERS[token.text]}`).words.push(token);
      open(OPENERS[token.text]);
      continue;
    }
    if (commandPosition && !command && token.text === 'function') {
      const definition = begin(token, 'compound', 'a function');
      definition.words.push(token);
      defining = 'name';
      continue;
    }
    (command ?? begin(token, 'simple')).words.push(token);
    commandPosition = false;
  }
  return out;
}

/**
 * Every assignment of `variable` the shell runs when it sources `text`, in order. Throws, with
 * file:line, on one it cannot tell runs or how.
 */
export function shellAssignments(file: string, text: string, variable: string): ShellAssignment[] {
  const found: ShellAssignment[] = [];
  // `V=`, `V+=` anywhere in a word (eval "V=…" too), or the bare name (unset V, read V).
  const assigns = new RegExp(`(?<![A-Za-z0-9_])${variable}\\+?=`);
  const names = (w: { text: string }) => assigns.test(w.text) || w.text === variable;
  const refuse = (at: number, what: string, todo: string): never => {
    throw new Error(`${file}:${lineOf(text, at)}: ${variable} ${what}; ${todo}`);
  };
  const byHand = 'hvtune cannot tell what the boot line gets: set it with a plain assignment, or edit it by hand';
  // Whether the last command that ran in the current and-or list succeeded (null: cannot tell).
  let succeeded: boolean | null = true;
  for (const command of commands(tokenize(file, text))) {
    const runs: boolean | null = command.after === '' ? true : command.after === '&&' ? succeeded : succeeded === null ? null : !succeeded;
    if (command.kind === 'compound') {
      const mentioned = command.words.find(names);
      if (mentioned) refuse(mentioned.start, `is set inside ${command.construct} (line ${lineOf(text, command.start)})`, byHand);
      succeeded = runs === false ? succeeded : null;
      continue;
    }
    const words = command.words;
    let n = 0;
    while (n < words.length && NAME_ASSIGNMENT.test(words[n].text)) n++;
    const program = words[n]?.text;
    const declares = program === 'export' || program === 'readonly';
    const assignments = declares
      ? [...words.slice(0, n), ...words.slice(n + 1).filter((w) => NAME_ASSIGNMENT.test(w.text))]
      : words.slice(0, n);
    for (const word of assignments) {
      const [, name, plus] = NAME_ASSIGNMENT.exec(word.text) ?? [];
      if (name !== variable) continue;
      if (plus)
        refuse(
          word.start,
          'is appended with +=, which bash runs and dash (/bin/sh on Debian) rejects',
          `write ${variable}="$${variable} …" instead`,
        );
      if (program !== undefined && !declares)
        refuse(word.start, `is set only for the command ${program} that follows it`, 'put the assignment in a command of its own');
      if (command.piped || command.background)
        refuse(word.start, 'is set in a pipeline or in the background, where the shell runs a subshell', byHand);
      if (runs === null)
        refuse(word.start, `is set only when the command before ${command.after} ${command.after === '&&' ? 'succeeds' : 'fails'}`, byHand);
      if (runs === false) continue;
      found.push({ start: word.start + name.length + 1, end: word.end, line: lineOf(text, word.start) });
    }
    const counted = new Set<Token>(assignments);
    const other = words.find((w) => !counted.has(w) && (assigns.test(w.text) || (w.text === variable && MODIFIERS.has(program ?? ''))));
    if (other) refuse(other.start, `is changed by ${program ?? 'a command'}`, byHand);
    // An assignment alone succeeds unless a command substitution in it fails.
    const certain = !command.piped && words.every((w) => !w.substitution) && (program === undefined || ALWAYS_SUCCEEDS.has(program));
    if (runs !== false) succeeded = runs === null ? null : certain ? true : null;
  }
  return found;
}
