// Where profiles are found. A profile NAME is `profiles/NAME.yml` (one file with the keys
// include/defaults/vars/tasks/handlers) or a folder `profiles/NAME/` (meta.yml, defaults.yml,
// vars.yml, tasks.yml, handlers.yml). Looked up, first match wins, in: the `profiles/` folder beside
// the playbook, each folder of HVTUNE_PROFILES_PATH (colon-separated), then the profiles hvtune
// ships — so a site's own profile of the same name replaces a shipped one, as /etc/tuned does
// /usr/lib/tuned.

import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The profiles hvtune ships: `profiles/` at the project's root (from src/ in tests or dist/src/ when built). */
export function shippedProfilesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'profiles');
}

/** The folders searched for the profiles a playbook in `playbookDir` names, in order. */
export function profileSearchPath(playbookDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env.HVTUNE_PROFILES_PATH ?? '')
    .split(':')
    .filter(Boolean)
    .map((d) => resolve(d));
  return [...new Set([join(resolve(playbookDir), 'profiles'), ...fromEnv, shippedProfilesDir()])];
}

export type FoundProfile = { kind: 'file'; path: string } | { kind: 'folder'; path: string };

/**
 * The first folder of `path` that holds the profile. Both forms in one folder are ambiguous: an
 * error names both, rather than hvtune picking one silently.
 */
export function findProfile(name: string, path: string[]): FoundProfile | { ambiguous: [string, string] } | undefined {
  for (const dir of path) {
    const file = join(dir, `${name}.yml`);
    const folder = join(dir, name);
    const hasFile = isFile(file);
    const hasFolder = isFolder(folder);
    if (hasFile && hasFolder) return { ambiguous: [file, folder] };
    if (hasFile) return { kind: 'file', path: file };
    if (hasFolder) return { kind: 'folder', path: folder };
  }
  return undefined;
}

/** The files a profile folder may hold, each optional. */
export const PROFILE_FOLDER_FILES = ['meta', 'defaults', 'vars', 'tasks', 'handlers'] as const;

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
