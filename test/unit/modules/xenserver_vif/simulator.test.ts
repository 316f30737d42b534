// The xe simulator (test/sim/xe/xe.mjs) against XenServer's documented xe syntax and seed 000's
// netback model: output forms, errors on stderr with exit 1, state changes only where xe makes them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SEED_000, useSimulator, workersByVif } from './sim-env.js';

const sim = useSimulator();

describe('xe simulator', () => {
  it('params= prints records with the first field left-aligned, the rest right-aligned on the colon', () => {
    sim.seed(SEED_000);
    const out = sim.xe('vm-list', 'name-label=vm1', 'params=uuid,name-label,power-state,other-config');
    expect(out).toMatch(
      /^uuid \( RO\) {8}: [0-9a-f-]{36}\n {2}name-label \( RW\): vm1\n power-state \( RO\): halted\nother-config \(MRW\): auto_poweron: true\n\n\n$/,
    );
  });

  it('--minimal prints one comma-separated line of the first param (uuid by default)', () => {
    expect(sim.xe('vm-list', 'is-control-domain=false', 'params=name-label', '--minimal')).toBe('vm1,vm2,vm3,vm4\n');
    expect(sim.xe('vm-list', 'name-label=nope', '--minimal')).toBe('\n');
    expect(sim.xe('vm-list', 'is-control-domain=true', '--minimal').trim()).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('param-get and map keys; param-set of a read-only field is an error', () => {
    const uuid = sim.xe('vm-list', 'name-label=vm2', '--minimal').trim();
    sim.xe('vm-param-set', `uuid=${uuid}`, 'order=3', 'start-delay=15');
    expect(sim.xe('vm-param-get', `uuid=${uuid}`, 'param-name=order')).toBe('3\n');
    expect(sim.xe('vm-param-get', `uuid=${uuid}`, 'param-name=other-config', 'param-key=auto_poweron')).toBe('true\n');
    expect(sim.xeFails('vm-param-set', `uuid=${uuid}`, 'power-state=running')).toBe("Error: the parameter 'power-state' is read-only.\n");
    expect(sim.xeFails('vm-param-set', `uuid=${uuid}`, 'order=first')).toMatch(/expected an integer for 'order'/);
  });

  it('errors look like xe: invalid uuid, unknown command, missing parameter', () => {
    expect(sim.xeFails('vif-param-get', 'uuid=0000', 'param-name=MAC')).toBe('The uuid you supplied was invalid.\ntype: VIF\nuuid: 0000\n');
    expect(sim.xeFails('vm-frobnicate')).toBe("Unknown command: vm-frobnicate\nFor usage run: 'xe help'\n");
    expect(sim.xeFails('vif-create', 'device=0')).toBe('Required parameter not found: vm-uuid\n');
  });

  it('vif-create: a taken device is refused; MTU follows other-config:mtu; vif-destroy of an attached VIF is refused', () => {
    const vm = sim.xe('vm-list', 'name-label=vm1', '--minimal').trim();
    const net = sim.xe('network-list', 'name-label=guest-net', '--minimal').trim();
    expect(sim.xeFails('vif-create', `vm-uuid=${vm}`, `network-uuid=${net}`, 'device=1')).toBe(
      'A device with the name given already exists on the selected VM\ndevice: 1\n',
    );
    const vif = sim.xe('vif-create', `vm-uuid=${vm}`, `network-uuid=${net}`, 'device=5', 'mac=02:AA:BB:CC:DD:EE').trim();
    expect(sim.xe('vif-param-get', `uuid=${vif}`, 'param-name=MAC')).toBe('02:aa:bb:cc:dd:ee\n');
    sim.xe('vif-param-set', `uuid=${vif}`, 'other-config:mtu=9000');
    expect(sim.xe('vif-param-get', `uuid=${vif}`, 'param-name=MTU')).toBe('9000\n');
    expect(sim.xeFails('vif-param-set', `uuid=${vif}`, 'MTU=1500')).toBe("Error: the parameter 'MTU' is read-only.\n");
    sim.xe('vm-start', `uuid=${vm}`);
    expect(sim.xeFails('vif-destroy', `uuid=${vif}`)).toMatch(/^You attempted an operation that was not allowed\./);
    expect(sim.xeFails('vm-start', 'vm=vm1')).toMatch(
      /not in an appropriate power state.*\nvm: .* \(vm1\)\nexpected: halted\nactual: running\n$/s,
    );
    sim.xe('vm-shutdown', 'vm=vm1');
    sim.xe('vif-destroy', `uuid=${vif}`);
    expect(sim.xe('vif-list', `vm-uuid=${vm}`, 'params=device', '--minimal')).toBe('0,1\n');
  });

  it('host-reboot needs a disabled host, then starts VMs in order (ties by name) and assigns netback round-robin', () => {
    sim.seed(SEED_000);
    expect(sim.xeFails('host-reboot')).toMatch(/^This operation cannot be performed because the host is not disabled\./);
    for (const [vm, order] of [
      ['vm4', 1],
      ['vm3', 2],
      ['vm2', 3],
      ['vm1', 4],
    ] as const)
      sim.xe('vm-param-set', `vm=${vm}`, `order=${order}`);
    sim.xe('host-disable');
    sim.xe('host-reboot');
    expect(sim.xe('host-list', 'params=enabled', '--minimal')).toBe('true\n');
    const w = workersByVif(sim.xe('simulator-netback'));
    // vm4 first: its VIFs take workers 1, 2; then vm3 3, 4; vm2 1, 2; vm1 3, 4
    expect([w['vm4/0'], w['vm4/1'], w['vm3/0'], w['vm3/1'], w['vm2/0'], w['vm1/1']]).toEqual([1, 2, 3, 4, 1, 4]);
    const domids = sim.xe('vm-list', 'is-control-domain=false', 'params=dom-id', '--minimal').trim().split(',').map(Number);
    expect(domids).toEqual([4, 3, 2, 1]); // listed vm1..vm4, started vm4 first
  });

  it('a VM started later continues the round-robin; shutdown frees its workers', () => {
    sim.seed({ ...SEED_000, vms: SEED_000.vms.map((v) => ({ ...v, power: 'running' })) });
    sim.xe('vm-shutdown', 'vm=vm1');
    sim.xe('vm-start', 'vm=vm1');
    const w = workersByVif(sim.xe('simulator-netback'));
    expect([w['vm1/0'], w['vm1/1']]).toEqual([1, 2]); // slots 9 and 10 of a pool of 4
    expect(sim.xe('vm-param-get', 'vm=vm1', 'param-name=dom-id')).toBe('5\n');
  });

  it('read-only commands leave the state file untouched', () => {
    sim.seed(SEED_000);
    const state = () => readFileSync(process.env.XE_SIMULATOR_STATE!, 'utf8');
    const before = state();
    sim.xe('vm-list', 'params=all');
    sim.xe('vif-list', 'params=all');
    sim.xe('network-list');
    sim.xe('vm-param-get', 'vm=vm1', 'param-name=order');
    sim.xe('host-list', 'params=software-version');
    expect(state()).toBe(before);
  });
});
