// The files a lab hands to hvtune and to ssh: an inventory in hvtune's YAML shape and known_hosts.

import { stringify } from 'yaml';

/** A lab host as the client files name it: inventory name, ssh address and port, host key. */
export interface LabEndpoint {
  name: string;
  address: string;
  port: number;
  hostKeyPublic: string;
}

/**
 * all.vars carries the connection settings; every group lists its hosts with their address.
 * Groups `lab` and `kvm_hosts` hold every host unless the caller defined a group of that name.
 */
export function renderInventory(opts: { hosts: LabEndpoint[]; groups: Map<string, string[]>; identityFile: string }): string {
  const byName = new Map(opts.hosts.map((h) => [h.name, h]));
  const groups = new Map(opts.groups);
  if (!groups.has('lab'))
    groups.set(
      'lab',
      opts.hosts.map((h) => h.name),
    );
  // every lab host runs libvirt: the KVM playbooks (hosts: kvm_hosts) select them
  if (!groups.has('kvm_hosts'))
    groups.set(
      'kvm_hosts',
      opts.hosts.map((h) => h.name),
    );
  const children: Record<string, { hosts: Record<string, Record<string, string | number>> }> = {};
  for (const [group, members] of groups) {
    const hosts: Record<string, Record<string, string | number>> = {};
    for (const name of members) {
      const h = byName.get(name);
      if (!h) throw new Error(`lab: group ${group} names host ${name}, which the lab does not have`);
      hosts[name] = h.port === 22 ? { address: h.address } : { address: h.address, port: h.port };
    }
    children[group] = { hosts };
  }
  return stringify({ all: { vars: { user: 'root', identity_file: opts.identityFile }, children } });
}

/** One line per host; the [addr]:port form only for a port other than 22, as ssh writes it. */
export function renderKnownHosts(hosts: LabEndpoint[]): string {
  return hosts.map((h) => `${h.port === 22 ? h.address : `[${h.address}]:${h.port}`} ${h.hostKeyPublic}\n`).join('');
}
