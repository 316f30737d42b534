import { createTwoFilesPatch } from 'diff';

/** A file change as a unified diff (`/dev/null` for a file created or removed). */
export function unifiedDiff(path: string, before: string | null, after: string | null): string {
  return createTwoFilesPatch(
    before === null ? '/dev/null' : `a${path}`,
    after === null ? '/dev/null' : `b${path}`,
    before ?? '',
    after ?? '',
    undefined,
    undefined,
    { context: 3 },
  ).replace(/^=+\n/, '');
}
