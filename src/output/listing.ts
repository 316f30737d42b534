// --list-hosts, --list-tasks, --list-tags: the playbook as Ansible lists it, without connecting.

import type { Playbook } from '../playbook.js';
import { taskSelected } from '../tags.js';

export interface ListingOptions {
  hosts: boolean;
  tasks: boolean;
  tags: boolean;
  /** --tags / --skip-tags: the tasks listed are the ones that would run */
  onlyTags: string[];
  skipTags: string[];
}

const tagList = (tags: Iterable<string>) => `[${[...new Set(tags)].sort().join(', ')}]`;

/** `hostsByPlay`: each play's hosts within --limit, in inventory order. */
export function listingLines(file: string, playbook: Playbook, hostsByPlay: string[][], opts: ListingOptions): string[] {
  const out = [`playbook: ${file}`];
  for (const [i, play] of playbook.plays.entries()) {
    const tasks = play.tasks.filter((t) => taskSelected([...play.tags, ...t.tags], opts.onlyTags, opts.skipTags));
    out.push('', `  play #${i + 1} (${play.hosts}): ${play.name}\tTAGS: ${tagList(play.tags)}`);
    if (opts.hosts) {
      const hosts = hostsByPlay[i] ?? [];
      out.push(`    pattern: ['${play.hosts}']`, `    hosts (${hosts.length}):`, ...hosts.map((h) => `      ${h}`));
    }
    if (opts.tasks) {
      out.push('    tasks:');
      for (const t of tasks) out.push(`      ${t.name}\tTAGS: ${tagList([...play.tags, ...t.tags])}`);
    }
    if (opts.tags) out.push(`      TASK TAGS: ${tagList(tasks.flatMap((t) => [...play.tags, ...t.tags]))}`);
  }
  return out;
}
