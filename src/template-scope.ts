// What the templates of a play may read, for checking them before anything connects: the same
// names the engine puts in their context (engine/host-run.ts) — inventory vars of each host the
// play runs on, play vars, -e, results registered by earlier tasks, `item` in a task with `loop`,
// inventory_hostname, group_names and the facts (checked against their schema).

import type { Inventory } from './inventory.js';
import { selectHosts, selectLimit } from './patterns.js';
import type { Play, PlayScopes, Task } from './playbook.js';
import { factsSchema } from './schemas/facts.js';
import type { TemplateScope } from './template.js';

/** Names the engine defines for every host. */
const ALWAYS = ['facts', 'inventory_hostname', 'group_names'];

export function playScopes(inventory: Inventory, extraVars: Record<string, unknown>, limit?: string): PlayScopes {
  const limited = limit ? new Set(selectLimit(inventory, limit)) : null;
  const hostsOf = new Map<Play, string[]>();
  const hosts = (play: Play) => {
    let list = hostsOf.get(play);
    if (!list) {
      list = selectHosts(inventory, play.hosts).filter((h) => !limited || limited.has(h));
      // a play that selects no host runs nowhere: its inventory variables are those of any host
      hostsOf.set(play, list);
    }
    return list;
  };

  const scope = (play: Play, extra: { registered: string[]; item: boolean; guarded: ReadonlySet<string> }): TemplateScope => {
    const own = new Set([...ALWAYS, ...Object.keys(play.vars), ...Object.keys(extraVars), ...extra.registered, ...extra.guarded]);
    if (extra.item) own.add('item');
    const selected = hosts(play);
    const candidates = selected.length ? selected : [...inventory.hosts.keys()];
    const setOn = (name: string) => candidates.filter((h) => Object.hasOwn(inventory.hosts.get(h)!.vars, name));
    return {
      missing(name) {
        if (own.has(name)) return undefined;
        const on = setOn(name);
        if (on.length === candidates.length && on.length > 0) return undefined;
        if (!selected.length && on.length) return undefined;
        if (on.length) {
          const without = candidates.filter((h) => !on.includes(h));
          return `not set on ${listHosts(without)} (the inventory sets it for ${listHosts(on)} only): guard the task with when: "defined ${name}" or write {{default ${name} VALUE}}`;
        }
        if (name === 'item') return 'item is defined only in a task with loop:';
        return "not set by the play's vars, the inventory, -e or an earlier task's register";
      },
      known() {
        const names = new Set(own);
        for (const h of candidates) for (const key of Object.keys(inventory.hosts.get(h)!.vars)) names.add(key);
        return names;
      },
      facts: factsSchema,
    };
  };

  const registeredBefore = (play: Play, task: Task, handler: boolean): string[] => {
    const tasks = handler
      ? [...play.tasks, ...play.handlers.slice(0, play.handlers.indexOf(task))]
      : play.tasks.slice(0, play.tasks.indexOf(task));
    return tasks.flatMap((t) => (t.register ? [t.register] : []));
  };

  return {
    vars: (play) => scope(play, { registered: [], item: false, guarded: new Set() }),
    task: (play, task, o) => scope(play, { registered: registeredBefore(play, task, o.handler), item: o.item, guarded: o.guarded }),
  };
}

function listHosts(hosts: string[]): string {
  return hosts.length <= 5 ? hosts.join(', ') : `${hosts.slice(0, 5).join(', ')} and ${hosts.length - 5} more`;
}
