// The shipped playbooks and the example inventory agree on group names: each playbook selects
// the hosts it is written for, and the KVM playbooks never target the XenServer host or a guest.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadInventory, selectHosts } from '../../../src/inventory.js';
import { loadPlaybook } from '../../../src/playbook.js';
import { loadModules } from '../../../modules/index.js';

const root = join(import.meta.dirname, '../../..');
const inventory = loadInventory(join(root, 'inventory/example.yml'));
const hostsOf = async (name: string) => {
  const playbook = loadPlaybook(join(root, 'playbooks', name), await loadModules());
  return playbook.plays.map((p) => selectHosts(inventory, p.hosts));
};

describe('shipped playbooks × example inventory', () => {
  test.each(['hugepages.yml', 'kvm-host-network.yml', 'memory-and-disk.yml', 'numa-pinning.yml'])(
    '%s: the KVM hosts only',
    async (name) => {
      expect(await hostsOf(name)).toEqual([['hv1', 'hv2']]);
    },
  );
  test('xenserver-netback.yml: the XenServer host', async () => {
    expect(await hostsOf('xenserver-netback.yml')).toEqual([['xs1']]);
  });
  test('virtio-multiqueue.yml: KVM hosts, then guests', async () => {
    expect(await hostsOf('virtio-multiqueue.yml')).toEqual([['hv1', 'hv2'], ['vm1']]);
  });
});
