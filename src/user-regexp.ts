// Regular expressions written by users (lineinfile's regexp/insertafter/insertbefore, `~regex` host
// patterns) run on RE2 (the re2js port): matching is linear in the input, so no pattern can make
// the controller backtrack for minutes (`^(a+)+$` against a long line). RE2 has no backreferences
// (`\1`) and no lookaround (`(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`): such a pattern is refused when the
// input is validated, with the reason.

import { RE2JS } from 're2js';
import { memoize } from './memo.js';

export interface UserRegExp {
  readonly source: string;
  /** Whether the pattern matches anywhere in the text (JavaScript's RegExp.test). */
  test(text: string): boolean;
}

/** Compile a user's pattern; throws an Error whose message says what RE2 does not accept. */
export function compileUserRegExp(source: string): UserRegExp {
  return compiled(source);
}

/** Compiled once per pattern: a task's regexp is the same on every host (errors are not kept). */
const compiled = memoize((source: string): UserRegExp => {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (err) {
    throw new Error(`${(err as Error).message.replace(/^error parsing regexp: /, '')}${unsupportedHint(source)}`);
  }
  return { source, test: (text) => re.test(text) };
});

/** Why a pattern was refused, in words, or null when RE2 accepts it. */
export function userRegExpProblem(source: string): string | null {
  try {
    compileUserRegExp(source);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function unsupportedHint(source: string): string {
  if (/\(\?<?[=!]/.test(source)) return ' (lookahead and lookbehind are not supported: patterns run on RE2, in linear time)';
  if (/\\[1-9]/.test(source)) return ' (backreferences are not supported: patterns run on RE2, in linear time)';
  return ' (patterns run on RE2, whose syntax is that of Go and Python without backreferences and lookaround)';
}
