// The reboot module's plan: pure, on the host's pending items and what it observed.

import { describe, expect, it } from 'vitest';
import reboot from '../../../../modules/reboot.js';
import type { Pending } from '../../../../src/module.js';

const ctx = (pending: Pending[]) => ({
  host: 'hv1',
  facts: { hostname: 'hv1', kernel: { release: '6.1.0', version: [6, 1, 0] as [number, number, number] } },
  pending,
});
const grub: Pending = { effect: 'reboot', target: '/etc/default/grub', summary: 'kernel arguments' };
const reload: Pending = { effect: 'module-reload', target: 'module:kvm_amd', summary: 'avic' };
const restart: Pending = { effect: 'vm-restart', target: 'domain:vm1', summary: 'memoryBacking' };
const observed = (out: string) => reboot.parse({}, [{ kind: 'script', stdout: out, stderr: '', code: 0 }]);

describe('reboot plan', () => {
  it('nothing a reboot makes live is pending: no reboot (a VM restart is not one)', () => {
    expect(reboot.plan({}, observed('::hvtune:: virsh\n'), ctx([restart])).changes).toEqual([]);
  });

  it('pending reboot and reload: a reboot naming them, and the running domains it shuts down first', () => {
    const [c] = reboot.plan({}, observed('::hvtune:: virsh\nvm1\nvm2\n'), ctx([grub, reload])).changes;
    expect(c).toMatchObject({ target: 'reboot:hv1', effect: 'reboot', data: { domains: ['vm1', 'vm2'] } });
    expect(c.summary).toBe('reboot hv1: /etc/default/grub, module:kvm_amd; shut down vm1, vm2 first and start them again after');
  });

  it('a host without virsh has nothing to evacuate', () => {
    expect(reboot.plan({}, observed(''), ctx([grub])).changes[0].data).toEqual({ domains: [] });
  });

  it('libvirt not answering: refused, since running domains cannot be known', () => {
    expect(() => reboot.plan({}, observed('::hvtune:: virsh\nerror: failed to connect\n::hvtune:: error\n'), ctx([grub]))).toThrow(
      /cannot list the running domains to evacuate \(error: failed to connect\); not rebooting/,
    );
  });

  it('a XenServer dom0: evacuate: shutdown is refused rather than rebooted with its VMs; none reboots without moving them', () => {
    expect(() => reboot.plan({}, observed('::hvtune:: xe\n'), ctx([grub]))).toThrow(
      /a XenServer host: its VMs are moved by the pool with evacuate: migrate .*evacuate: shutdown is not done through xe/,
    );
    expect(reboot.plan({ evacuate: 'none' }, reboot.parse({ evacuate: 'none' }, []), ctx([grub])).changes).toHaveLength(1);
  });
});
