// What the templates of a play may read, for checking them before anything connects: the same
// names the engine puts in their context (engine/host-run.ts) — inventory vars of each host the
// play runs on, profile defaults, play vars (with vars_files and profile vars), -e, results registered by earlier tasks, `item` in a task with `loop`,
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
  const plays = new Map<Play, PlayNames>();
  // worked out once per play, not per task (per task it was quadratic: 20 000 tasks took 20 s)
  const namesOf = (play: Play): PlayNames => {
    let names = plays.get(play);
    if (!names) {
      names = playNames(play, inventory, Object.keys(extraVars), limited);
      plays.set(play, names);
    }
    return names;
  };

  const scope = (names: PlayNames, registered: ReadonlySet<string>, item: boolean, guarded: ReadonlySet<string>): TemplateScope => ({
    missing(name) {
      if (names.base.has(name) || registered.has(name) || guarded.has(name) || (item && name === 'item')) return undefined;
      const on = names.setOn(name);
      const { selected, candidates } = names;
      if (on.length === candidates.length && on.length > 0) return undefined;
      if (!selected.length && on.length) return undefined;
      if (on.length) {
        const onSet = new Set(on);
        const without = candidates.filter((h) => !onSet.has(h));
        return `not set on ${listHosts(without)} (the inventory sets it for ${listHosts(on)} only): guard the task with when: "defined ${name}" or write {{default ${name} VALUE}}`;
      }
      if (name === 'item') return 'item is defined only in a task with loop:';
      return "not set by the play's vars, the inventory, -e or an earlier task's register";
    },
    known: () => [...names.base, ...registered, ...names.hostVars()],
    facts: factsSchema,
  });

  return {
    vars: (play) => scope(namesOf(play), new Set(), false, new Set()),
    task: (play, task, o) => {
      const names = namesOf(play);
      return scope(names, names.registeredBefore.get(task) ?? new Set(), o.item, o.guarded);
    },
  };
}

interface PlayNames {
  /** Names every host of the play has: built-ins, play vars, -e. */
  base: ReadonlySet<string>;
  /** The hosts the play runs on, and those whose variables count (every host when it selects none). */
  selected: string[];
  candidates: string[];
  /** The hosts among candidates whose inventory variables set a name. */
  setOn(name: string): string[];
  hostVars(): Iterable<string>;
  /** What the tasks (and handlers: after every task) before each one registered. */
  registeredBefore: ReadonlyMap<Task, ReadonlySet<string>>;
}

function playNames(play: Play, inventory: Inventory, extra: string[], limited: Set<string> | null): PlayNames {
  const selected = selectHosts(inventory, play.hosts).filter((h) => !limited || limited.has(h));
  // a play that selects no host runs nowhere: its inventory variables are those of any host
  const candidates = selected.length ? selected : [...inventory.hosts.keys()];
  const on = new Map<string, string[]>();
  const registeredBefore = new Map<Task, ReadonlySet<string>>();
  let registered = new Set<string>();
  for (const task of [...play.tasks, ...play.handlers]) {
    registeredBefore.set(task, registered);
    if (task.register && !registered.has(task.register)) registered = new Set([...registered, task.register]);
  }
  return {
    base: new Set([...ALWAYS, ...Object.keys(play.defaults ?? {}), ...Object.keys(play.vars), ...extra]),
    selected,
    candidates,
    setOn(name) {
      let hosts = on.get(name);
      if (!hosts) {
        hosts = candidates.filter((h) => Object.hasOwn(inventory.hosts.get(h)!.vars, name));
        on.set(name, hosts);
      }
      return hosts;
    },
    hostVars: () => new Set(candidates.flatMap((h) => Object.keys(inventory.hosts.get(h)!.vars))),
    registeredBefore,
  };
}

function listHosts(hosts: string[]): string {
  return hosts.length <= 5 ? hosts.join(', ') : `${hosts.slice(0, 5).join(', ')} and ${hosts.length - 5} more`;
}
