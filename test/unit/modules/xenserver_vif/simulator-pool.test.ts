// The xe simulator's pool (test/sim/xe/xe.mjs): host-evacuate with XenServer's meaning — the host's
// running VMs go to other enabled hosts of the pool with the memory for them, or, when one fits
// nowhere, the command fails and nothing moves — and what the reboot module reads of it.
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { useSimulator, type Scenario } from './sim-env.js';

const sim = useSimulator();
const POOL: Scenario = {
  host: 'xs1',
  memoryFreeMiB: 1024,
  pool: [
    { name: 'xs2', memoryFreeMiB: 3072 },
    { name: 'xs3', memoryFreeMiB: 2048 },
  ],
  networks: ['guest-net'],
  vms: [
    { name: 'db', power: 'running', memoryMiB: 2048, vifs: [{ network: 'guest-net' }] },
    { name: 'web', power: 'running', memoryMiB: 1024, vifs: [{ network: 'guest-net' }] },
    { name: 'spare', power: 'halted', vifs: [] },
  ],
};
const self = () => /INSTALLATION_UUID='([0-9a-f-]+)'/.exec(readFileSync(process.env.XE_SIMULATOR_INVENTORY!, 'utf8'))![1];
const hostOf = (vm: string) =>
  sim.xe('vm-param-get', `uuid=${sim.xe('vm-list', `name-label=${vm}`, '--minimal').trim()}`, 'param-name=resident-on').trim();
const hostUuid = (name: string) => sim.xe('host-list', `name-label=${name}`, '--minimal').trim();
const onSelf = () =>
  sim.xe('vm-list', `resident-on=${self()}`, 'power-state=running', 'is-control-domain=false', 'params=name-label', '--minimal').trim();

describe('xe simulator pool', () => {
  beforeEach(() => sim.seed(POOL));

  it('a pool scenario lists every host, and writes the simulated host its xensource-inventory', () => {
    expect(sim.xe('host-list', 'params=name-label', '--minimal')).toBe('xs1,xs2,xs3\n');
    expect(hostUuid('xs1')).toBe(self());
    expect(onSelf()).toBe('db,web');
  });

  it('host-evacuate: the largest VM first to the host with the most free memory; the host keeps none', () => {
    sim.xe('host-disable', `uuid=${self()}`);
    sim.xe('host-evacuate', `uuid=${self()}`);
    expect(hostOf('db')).toBe(hostUuid('xs2'));
    expect(hostOf('web')).toBe(hostUuid('xs3'));
    expect(onSelf()).toBe('');
    expect(sim.xe('host-list', 'params=name-label,memory-free', '--minimal')).toBe('xs1,xs2,xs3\n');
    expect(sim.xe('host-param-get', `uuid=${hostUuid('xs2')}`, 'param-name=memory-free')).toBe(`${1024 * 1024 * 1024}\n`);
    // the log says the host was disabled before it was evacuated
    expect(sim.xe('simulator-log')).toMatch(
      new RegExp(
        `^host-disable uuid=${self()} local-enabled=true boot=\\S+\\nhost-evacuate uuid=${self()} local-enabled=false boot=\\S+\\n$`,
      ),
    );
  });

  it('no room on the enabled hosts for every VM: the command fails and nothing moves, not even the VMs that fit', () => {
    sim.xe('host-disable', 'host=xs2');
    const state = readFileSync(process.env.XE_SIMULATOR_STATE!, 'utf8');
    // db (2 GiB) would fit on xs3, then web (1 GiB) fits nowhere
    expect(sim.xeFails('host-evacuate', `uuid=${self()}`)).toMatch(
      /^The host failed to evacuate: not enough host memory .*\nvm: .* \(web\)\nneeded: 1073741824\navailable: xs3=0\n$/,
    );
    expect(onSelf()).toBe('db,web');
    expect(readFileSync(process.env.XE_SIMULATOR_STATE!, 'utf8')).toBe(state);
  });

  it('host-reboot restarts only the VMs still on the host; evacuated ones stay on their hosts', () => {
    sim.xe('host-disable');
    sim.xe('host-evacuate', 'host=xs1');
    sim.xe('vm-start', 'vm=spare');
    sim.xe('host-reboot');
    expect(onSelf()).toBe('spare');
    expect(hostOf('db')).toBe(hostUuid('xs2'));
  });
});
