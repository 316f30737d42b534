// Files hvtune writes on the controller that hold what managed files held (run records, saved
// plans, saved facts): readable by their owner only, written whole or not at all.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Write `content` to `path` with mode 0600 (temp file and rename); a missing parent is made 0700. */
export function writePrivateFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, path);
}
