// What `hvtune inventory` prints: Ansible's `ansible-inventory --list` JSON shape (so the two can
// be compared on the same files), a host's variables, or the group tree.

import type { Inventory, InventoryHost } from '../inventory.js';

/** A host's variables as a run sees them, with the connection it will use (defaults included). */
export function hostVariables(host: InventoryHost): Record<string, unknown> {
  const { reboot_command, ...connection } = host.connection;
  return { ...host.vars, ...connection, ...(reboot_command ? { reboot_command } : {}) };
}

/** `--list`: `_meta.hostvars` and each group's direct hosts and children; empty groups left out. */
export function inventoryList(inv: Inventory): Record<string, unknown> {
  const out: Record<string, unknown> = {
    _meta: { hostvars: Object.fromEntries([...inv.hosts.values()].map((h) => [h.name, hostVariables(h)])) },
  };
  for (const g of inv.groups.values()) {
    const body: Record<string, string[]> = {};
    const hosts = g.name === 'all' ? [] : g.hosts;
    if (hosts.length) body.hosts = hosts;
    if (g.children.length) body.children = g.children;
    if (Object.keys(body).length || g.name === 'all') out[g.name] = body;
  }
  return out;
}

/** `--graph`: the group tree from `all` (or a group), child groups then hosts, by name, as Ansible draws it. */
export function inventoryGraph(inv: Inventory, root = 'all'): string[] {
  const lines: string[] = [];
  const prefix = (depth: number) => (depth === 0 ? '' : `${'  |'.repeat(depth)}--`);
  const walk = (name: string, depth: number) => {
    const g = inv.groups.get(name);
    if (!g) return;
    lines.push(`${prefix(depth)}@${name}:`);
    for (const child of [...g.children].sort()) walk(child, depth + 1);
    if (name !== 'all') for (const h of [...g.hosts].sort()) lines.push(`${prefix(depth + 1)}${h}`);
  };
  walk(root, 0);
  return lines;
}
