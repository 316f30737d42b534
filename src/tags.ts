// Tag selection, Ansible's rules: `--tags` keeps the tasks that have one of them (`all`: every
// task), `always` tasks run unless skipped by name, `never` tasks run only when one of their tags
// is asked for by name; `--skip-tags` wins over both.

import { HvtuneError } from './errors.js';
import type { Playbook } from './playbook.js';

/** Tags with a meaning of their own, never an error in --tags. */
const SPECIAL = ['all', 'always', 'never'];

export function taskSelected(tagsOfTask: readonly string[], tags: readonly string[], skipTags: readonly string[]): boolean {
  const has = new Set(tagsOfTask);
  if (skipTags.some((t) => has.has(t))) return false;
  const named = tags.some((t) => t !== 'all' && has.has(t));
  if (has.has('never') && !named) return false;
  if (tags.length && !named && !tags.includes('all')) return has.has('always');
  return true;
}

/** Every tag of the playbook's plays and tasks, sorted. */
export function playbookTags(playbook: Playbook): string[] {
  const all = new Set<string>();
  for (const p of playbook.plays) for (const t of [...p.tags, ...p.tasks.flatMap((x) => x.tags)]) all.add(t);
  return [...all].sort();
}

/** `--tags` naming no tag of the playbook selects nothing: refused, naming the tags there are. */
export function checkTags(playbook: Playbook, tags: readonly string[]): void {
  const known = playbookTags(playbook);
  const unknown = tags.filter((t) => !SPECIAL.includes(t) && !known.includes(t));
  if (unknown.length)
    throw new HvtuneError(
      `--tags ${unknown.join(',')}: no play or task of the playbook has ${unknown.length > 1 ? 'these tags' : 'this tag'}; known tags: ${known.length ? known.join(', ') : '(none)'}`,
    );
}
