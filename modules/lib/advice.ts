// Dated advice (Module.advise) shared by the modules that remove what they name and those that
// put something at a path.

import type { Advice, ArgLeaf } from '../../src/module.js';
import { KVM_HUGEPAGES, MAX_VFS } from '../../src/dated.js';

/** A task that removes what it names (state: absent) gives no advice: removing a dated setting is the fix. */
export function adviseUnlessAbsent(_leaf: ArgLeaf, args: { state?: string }, generic: Advice[]): Advice[] {
  return args.state === 'absent' ? [] : generic;
}

/** A task that puts something at `path` (a file, a mount point): /etc/default/qemu-kvm itself is dated. */
export function adviseOnFile(leaf: ArgLeaf, args: { path: string; state?: string }, generic: Advice[]): Advice[] {
  if (args.state === 'absent') return [];
  return leaf.path[0] === 'path' && args.path === '/etc/default/qemu-kvm' ? [...generic, KVM_HUGEPAGES] : generic;
}

/** modprobe: the legacy max_vfs option of igb/ixgbe names the sriov module that replaces it. */
export function adviseOnModuleOptions(leaf: ArgLeaf, args: { state?: string }, generic: Advice[]): Advice[] {
  if (args.state === 'absent') return adviseUnlessAbsent(leaf, args, generic);
  return leaf.isKey && leaf.path.length === 2 && leaf.path[0] === 'options' && leaf.path[1] === 'max_vfs' ? [...generic, MAX_VFS] : generic;
}
