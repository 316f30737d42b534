// Profile defaults sit below the inventory: the ones a host keeps are those nothing above sets.

import type { Play } from '../playbook.js';

/** The profile defaults nothing above them sets for this host (inventory, play vars, -e). */
export function liveDefaults(
  play: Play,
  inventoryVars: Record<string, unknown>,
  extraVars: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(play.defaults ?? {})) {
    if (!Object.hasOwn(inventoryVars, key) && !Object.hasOwn(play.vars, key) && !Object.hasOwn(extraVars, key)) out[key] = value;
  }
  return out;
}
