// The messages of the InputError a call throws, as a user reads them.
import { InputError, formatProblem } from '../../../src/errors.js';

export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected an InputError');
}
