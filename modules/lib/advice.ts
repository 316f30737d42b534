// Dated advice (Module.advise) shared by the modules that remove what they name and those that
// put something at a path.

import type { Advice, ArgLeaf } from '../../src/module.js';
import { KVM_HUGEPAGES } from '../../src/dated.js';

/** A task that removes what it names (state: absent) gives no advice: removing a dated setting is the fix. */
export function adviseUnlessAbsent(_leaf: ArgLeaf, args: { state?: string }, generic: Advice[]): Advice[] {
  return args.state === 'absent' ? [] : generic;
}

/** A task that puts something at `path` (a file, a mount point): /etc/default/qemu-kvm itself is dated. */
export function adviseOnFile(leaf: ArgLeaf, args: { path: string; state?: string }, generic: Advice[]): Advice[] {
  if (args.state === 'absent') return [];
  return leaf.path[0] === 'path' && args.path === '/etc/default/qemu-kvm' ? [...generic, KVM_HUGEPAGES] : generic;
}
