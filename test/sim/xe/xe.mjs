#!/usr/bin/env node
// xe simulator: a stand-in for XenServer's `xe` CLI, for tests only (no XenServer can run in the
// lab). It keeps its state in a JSON file and implements the commands hvtune's xenserver_vif
// module uses, in xe's documented syntax (`xe <command> key=value… [--minimal]`), with the netback
// allocation model of seed 000: a fixed pool of workers, VIFs assigned round-robin, VIF by VIF in
// device order, as VMs start after a host restart.
//
// A scenario may put the host in a pool of other hosts (`pool`), which `host-evacuate` moves the
// running VMs to, as XenServer does.
//
//   xe simulator-seed file=scenario.json   (admin) replace the state with a scenario
//   xe simulator-netback                   (admin) print the worker of every attached VIF
//   xe simulator-log                       (admin) the host-* commands so far, in order
//
// State: $XE_SIMULATOR_STATE or /var/lib/xe-simulator/state.json. No dependencies.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const STATE = process.env.XE_SIMULATOR_STATE || '/var/lib/xe-simulator/state.json';

class XeError extends Error {}

// Field tables: name → [access annotation as xe prints it, getter].
const FIELDS = {
  vm: {
    uuid: [' RO', (o) => o.uuid],
    'name-label': [' RW', (o) => o.nameLabel],
    'power-state': [' RO', (o) => o.powerState],
    'dom-id': [' RO', (o) => String(o.domid)],
    'is-control-domain': [' RO', (o) => String(o.isControlDomain)],
    'is-a-template': [' RW', () => 'false'],
    'is-a-snapshot': [' RO', () => 'false'],
    order: [' RW', (o) => String(o.order)],
    'start-delay': [' RW', (o) => String(o.startDelay)],
    'VCPUs-number': [' RO', (o) => String(o.vcpus)],
    'resident-on': [' RO', (o, s) => (o.powerState === 'running' ? (o.residentOn ?? s.host.uuid) : '<not in database>')],
    'memory-static-max': [' RW', (o) => String(o.memory ?? DEFAULT_VM_MEMORY)],
    'other-config': ['MRW', (o) => formatMap(o.otherConfig)],
  },
  vif: {
    uuid: [' RO', (o) => o.uuid],
    'vm-uuid': [' RO', (o) => o.vm],
    'vm-name-label': [' RO', (o, s) => findVm(s, o.vm).nameLabel],
    device: [' RO', (o) => String(o.device)],
    'network-uuid': [' RO', (o) => o.network],
    'network-name-label': [' RO', (o, s) => findNetwork(s, o.network).nameLabel],
    MAC: [' RO', (o) => o.mac],
    MTU: [' RO', (o, s) => o.otherConfig.mtu ?? String(findNetwork(s, o.network).mtu)],
    'currently-attached': [' RO', (o) => String(o.attached)],
    'other-config': ['MRW', (o) => formatMap(o.otherConfig)],
  },
  network: {
    uuid: [' RO', (o) => o.uuid],
    'name-label': [' RW', (o) => o.nameLabel],
    bridge: [' RO', (o) => o.bridge],
    MTU: [' RW', (o) => String(o.mtu)],
    'other-config': ['MRW', (o) => formatMap(o.otherConfig)],
  },
  host: {
    uuid: [' RO', (o) => o.uuid],
    'name-label': [' RW', (o) => o.nameLabel],
    enabled: [' RO', (o) => String(o.enabled)],
    'memory-free': [' RO', (o) => String(o.memoryFree ?? 0)],
    'software-version': ['MRO', (o) => formatMap(o.softwareVersion)],
  },
};
const DEFAULT_PARAMS = {
  vm: ['uuid', 'name-label', 'power-state'],
  vif: ['uuid', 'vm-uuid', 'device', 'network-uuid'],
  network: ['uuid', 'name-label', 'bridge'],
  host: ['uuid', 'name-label'],
};
const CLASS_TYPE = { vm: 'VM', vif: 'VIF', network: 'network', host: 'host' };
const MIB = 1024 * 1024;
const DEFAULT_VM_MEMORY = 256 * MIB;

const formatMap = (m) =>
  Object.entries(m)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');

function load() {
  try {
    return JSON.parse(readFileSync(STATE, 'utf8'));
  } catch {
    throw new XeError(`Error: the xe simulator has no state at ${STATE}; run: xe simulator-seed file=SCENARIO.json`);
  }
}

function save(state) {
  mkdirSync(dirname(STATE), { recursive: true });
  writeFileSync(STATE + '.tmp', JSON.stringify(state, null, 2) + '\n');
  renameSync(STATE + '.tmp', STATE);
}

function objects(state, cls) {
  if (cls === 'vm') return [state.controlDomain, ...state.vms];
  if (cls === 'host') return [state.host, ...(state.pool ?? [])];
  return state[cls + 's'];
}

function invalidUuid(cls, uuid) {
  return new XeError(`The uuid you supplied was invalid.\ntype: ${CLASS_TYPE[cls]}\nuuid: ${uuid}`);
}
function findVm(state, uuid) {
  const vm = objects(state, 'vm').find((v) => v.uuid === uuid);
  if (!vm) throw invalidUuid('vm', uuid);
  return vm;
}
function findNetwork(state, uuid) {
  const n = state.networks.find((x) => x.uuid === uuid);
  if (!n) throw invalidUuid('network', uuid);
  return n;
}
function required(args, name) {
  if (args[name] === undefined) throw new XeError(`Required parameter not found: ${name}`);
  return args[name];
}

/** `uuid=` or, for VMs, `vm=<name or uuid>` as xe's VM selectors accept. */
function select(state, cls, args) {
  if (args.uuid !== undefined) {
    const o = objects(state, cls).find((x) => x.uuid === args.uuid);
    if (!o) throw invalidUuid(cls, args.uuid);
    return o;
  }
  if (cls === 'vm' && args.vm !== undefined) {
    const hits = state.vms.filter((v) => v.uuid === args.vm || v.nameLabel === args.vm);
    if (hits.length !== 1) throw new XeError(`No matching VMs found\nvm: ${args.vm}`);
    return hits[0];
  }
  throw new XeError('Required parameter not found: uuid');
}

/** host-* selectors: `uuid=`, `host=` or `name-label=`; none: the local host (the simulator's own). */
function selectHost(state, args) {
  const key = args.uuid ?? args.host ?? args['name-label'];
  if (key === undefined) return state.host;
  const hit = objects(state, 'host').find((h) => h.uuid === key || h.nameLabel === key);
  if (!hit) throw invalidUuid('host', key);
  return hit;
}

const onHost = (state, vm, host) => vm.powerState === 'running' && (vm.residentOn ?? state.host.uuid) === host.uuid;

/**
 * XenServer's host-evacuate: every running VM of the host goes to another enabled host of the pool
 * with the memory for it (the most free first, the largest VMs first); when one fits nowhere,
 * nothing moves. A VM moved away leaves this host's netback (its VIFs are attached on the other host).
 */
function evacuateHost(state, host) {
  const vms = state.vms
    .filter((v) => onHost(state, v, host))
    .sort((a, b) => (b.memory ?? DEFAULT_VM_MEMORY) - (a.memory ?? DEFAULT_VM_MEMORY) || a.nameLabel.localeCompare(b.nameLabel));
  const targets = objects(state, 'host')
    .filter((h) => h !== host && h.enabled)
    .map((h) => ({ host: h, free: h.memoryFree ?? 0 }));
  const moves = [];
  for (const vm of vms) {
    const need = vm.memory ?? DEFAULT_VM_MEMORY;
    const best = targets.filter((t) => t.free >= need).sort((a, b) => b.free - a.free)[0];
    if (!best) {
      throw new XeError(
        `The host failed to evacuate: not enough host memory is available on the other hosts of the pool.\nvm: ${vm.uuid} (${vm.nameLabel})\nneeded: ${need}\navailable: ${targets.map((t) => `${t.host.nameLabel}=${t.free}`).join(',') || 'no other enabled host'}`,
      );
    }
    best.free -= need;
    moves.push([vm, best.host]);
  }
  for (const [vm, to] of moves) {
    vm.residentOn = to.uuid;
    to.memoryFree = (to.memoryFree ?? 0) - (vm.memory ?? DEFAULT_VM_MEMORY);
    host.memoryFree = (host.memoryFree ?? 0) + (vm.memory ?? DEFAULT_VM_MEMORY);
    for (const f of state.vifs.filter((x) => x.vm === vm.uuid)) delete f.worker;
  }
}

/** The host-* commands that change state, with the local host's state before each and the boot id. */
function logHostCommand(state, command, args) {
  let boot = 'unknown';
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // not Linux: the log still has the order
  }
  const words = Object.entries(args).map(([k, v]) => `${k}=${v}`);
  state.log = [...(state.log ?? []), `${[command, ...words].join(' ')} local-enabled=${state.host.enabled} boot=${boot}`];
}

function render(state, cls, o, params) {
  const names = params.length ? params : DEFAULT_PARAMS[cls];
  const fields = names.map((name) => {
    const f = FIELDS[cls][name];
    if (!f) throw new XeError(`Unknown field '${name}'`);
    return [`${name} (${f[0]})`, f[1](o, state)];
  });
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v], i) => (i === 0 ? k.padEnd(width) : k.padStart(width)) + ': ' + v).join('\n');
}

function list(state, cls, args, flags) {
  const params = args.params === 'all' ? Object.keys(FIELDS[cls]) : args.params ? args.params.split(',') : [];
  const filters = Object.entries(args).filter(([k]) => k !== 'params');
  const rows = objects(state, cls).filter((o) =>
    filters.every(([k, v]) => {
      const [field, key] = k.split(':');
      const f = FIELDS[cls][field];
      if (!f) return false;
      const text = f[1](o, state);
      return key === undefined ? text === v : Object.fromEntries(text.split('; ').map((p) => p.split(': ')))[key] === v;
    }),
  );
  if (flags.has('minimal')) {
    const first = params[0] ?? 'uuid';
    return rows.map((o) => FIELDS[cls][first][1](o, state)).join(',') + '\n';
  }
  return rows.map((o) => render(state, cls, o, params) + '\n\n\n').join('');
}

function paramGet(state, cls, args) {
  const o = select(state, cls, args);
  const name = required(args, 'param-name');
  const f = FIELDS[cls][name];
  if (!f) throw new XeError(`Unknown field '${name}'`);
  const text = f[1](o, state);
  if (args['param-key'] === undefined) return text + '\n';
  const map = name === 'other-config' ? o.otherConfig : name === 'software-version' ? o.softwareVersion : null;
  if (!map || !(args['param-key'] in map)) throw new XeError(`Key ${args['param-key']} not found in map`);
  return map[args['param-key']] + '\n';
}

const WRITABLE = {
  vm: { 'name-label': ['nameLabel', String], order: ['order', Number], 'start-delay': ['startDelay', Number] },
  vif: {},
  network: { 'name-label': ['nameLabel', String], MTU: ['mtu', Number] },
};

function paramSet(state, cls, args) {
  const o = select(state, cls, args);
  for (const [k, v] of Object.entries(args)) {
    if (k === 'uuid' || (cls === 'vm' && k === 'vm')) continue;
    if (k.startsWith('other-config:')) {
      o.otherConfig[k.slice('other-config:'.length)] = v;
      continue;
    }
    const w = WRITABLE[cls][k];
    if (!w) {
      if (FIELDS[cls][k]) throw new XeError(`Error: the parameter '${k}' is read-only.`);
      throw new XeError(`Unknown field '${k}'`);
    }
    if (w[1] === Number && !/^-?\d+$/.test(v)) throw new XeError(`Error: expected an integer for '${k}', got '${v}'`);
    o[w[0]] = w[1](v);
  }
  return '';
}

function randomMac() {
  const b = randomBytes(6);
  b[0] = (b[0] & 0xfe) | 0x02; // locally administered, unicast
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function badPowerState(vm, expected) {
  return new XeError(
    "You attempted an operation on a VM that was not in an appropriate power state at the time; for example, you attempted to start a VM that was already running.  The parameters returned are the VM's handle, and the expected and actual VM state at the time of the call.\n" +
      `vm: ${vm.uuid} (${vm.nameLabel})\nexpected: ${expected}\nactual: ${vm.powerState}`,
  );
}

/** The netback model: a running VM's VIFs take the next workers round-robin, in device order. */
function startVm(state, vm) {
  if (vm.powerState !== 'halted') throw badPowerState(vm, 'halted');
  vm.powerState = 'running';
  delete vm.residentOn; // started here
  vm.domid = state.nextDomid++;
  const vifs = state.vifs.filter((f) => f.vm === vm.uuid).sort((a, b) => a.device - b.device);
  for (const f of vifs) {
    f.attached = true;
    if (state.netback.model === 'pool') f.worker = (state.netback.nextSlot++ % state.netback.workers) + 1;
  }
}

function shutdownVm(state, vm) {
  if (vm.powerState !== 'running') throw badPowerState(vm, 'running');
  vm.powerState = 'halted';
  vm.domid = -1;
  delete vm.residentOn;
  for (const f of state.vifs.filter((x) => x.vm === vm.uuid)) {
    f.attached = false;
    delete f.worker;
  }
}

const startOrder = (vms) =>
  [...vms].sort((a, b) => a.order - b.order || a.nameLabel.localeCompare(b.nameLabel) || a.uuid.localeCompare(b.uuid));

/** A host restart: netback starts empty, then VMs start one after another in `order`. */
function rebootHost(state) {
  // VMs running on other hosts of the pool are not this host's to restart
  const local = state.vms.filter((v) => onHost(state, v, state.host));
  const restart = state.vms.filter((v) => local.includes(v) || (v.powerState === 'halted' && v.otherConfig.auto_poweron === 'true'));
  for (const vm of local) shutdownVm(state, vm);
  state.netback.nextSlot = 0;
  state.nextDomid = 1;
  for (const vm of startOrder(restart)) startVm(state, vm);
  state.host.enabled = true;
}

function seed(args) {
  const scenario = JSON.parse(readFileSync(required(args, 'file'), 'utf8'));
  const hostName = scenario.host ?? 'xenserver-sim';
  const state = {
    host: {
      uuid: randomUUID(),
      nameLabel: hostName,
      enabled: true,
      memoryFree: (scenario.memoryFreeMiB ?? 4096) * MIB,
      softwareVersion: {
        product_version: scenario.productVersion ?? '5.6.100',
        linux: scenario.linux ?? '2.6.32.12-0.7.1.xs5.6.100.323.170596xen',
        xen: '3.4.2',
        network_backend: 'bridge',
      },
    },
    netback: { model: scenario.netback ?? 'pool', workers: scenario.workers ?? 4, nextSlot: 0 },
    nextDomid: 1,
    networks: [],
    vms: [],
    vifs: [],
  };
  state.controlDomain = {
    uuid: randomUUID(),
    nameLabel: `Control domain on host: ${hostName}`,
    powerState: 'running',
    domid: 0,
    isControlDomain: true,
    order: 0,
    startDelay: 0,
    vcpus: scenario.dom0Vcpus ?? state.netback.workers,
    otherConfig: {},
  };
  scenario.networks.forEach((name, i) =>
    state.networks.push({ uuid: randomUUID(), nameLabel: name, bridge: `xenbr${i}`, mtu: 1500, otherConfig: {} }),
  );
  const netByName = (name) => {
    const n = state.networks.find((x) => x.nameLabel === name);
    if (!n) throw new XeError(`simulator-seed: unknown network ${name}`);
    return n;
  };
  for (const v of scenario.vms) {
    const vm = {
      uuid: randomUUID(),
      nameLabel: v.name,
      powerState: 'halted',
      domid: -1,
      isControlDomain: false,
      order: v.order ?? 0,
      startDelay: v.startDelay ?? 0,
      vcpus: 1,
      otherConfig: v.otherConfig ?? {},
      ...(v.memoryMiB !== undefined ? { memory: v.memoryMiB * MIB } : {}),
    };
    state.vms.push(vm);
    v.vifs.forEach((f, device) =>
      state.vifs.push({
        uuid: randomUUID(),
        vm: vm.uuid,
        device: f.device ?? device,
        network: netByName(f.network).uuid,
        mac: f.mac ?? randomMac(),
        attached: false,
        otherConfig: f.otherConfig ?? {},
      }),
    );
  }
  // The scenario's running VMs were started in order after the last host restart.
  for (const vm of startOrder(state.vms.filter((_, i) => scenario.vms[i].power === 'running'))) startVm(state, vm);
  if (scenario.pool) {
    state.pool = scenario.pool.map((h) => ({
      uuid: randomUUID(),
      nameLabel: h.name,
      enabled: h.enabled ?? true,
      memoryFree: (h.memoryFreeMiB ?? 4096) * MIB,
      softwareVersion: state.host.softwareVersion,
    }));
    // a pool member's dom0 knows its own uuid from here, as XenServer's does
    const inventory = process.env.XE_SIMULATOR_INVENTORY || '/etc/xensource-inventory';
    mkdirSync(dirname(inventory), { recursive: true });
    writeFileSync(inventory, `PRODUCT_BRAND='XenServer'\nINSTALLATION_UUID='${state.host.uuid}'\n`);
  }
  save(state);
  return '';
}

function netbackReport(state) {
  const lines = [`model: ${state.netback.model}`, `workers: ${state.netback.workers}`];
  for (const f of state.vifs.filter((x) => x.attached).sort((a, b) => (a.worker ?? 0) - (b.worker ?? 0)))
    lines.push(`${findVm(state, f.vm).nameLabel} ${f.device} ${findNetwork(state, f.network).nameLabel} ${f.worker ?? '-'}`);
  return lines.join('\n') + '\n';
}

const COMMANDS = {
  'vm-list': (s, a, fl) => list(s, 'vm', a, fl),
  'vif-list': (s, a, fl) => list(s, 'vif', a, fl),
  'network-list': (s, a, fl) => list(s, 'network', a, fl),
  'host-list': (s, a, fl) => list(s, 'host', a, fl),
  'vm-param-get': (s, a) => paramGet(s, 'vm', a),
  'vif-param-get': (s, a) => paramGet(s, 'vif', a),
  'network-param-get': (s, a) => paramGet(s, 'network', a),
  'host-param-get': (s, a) => paramGet(s, 'host', a),
  'vm-param-set': (s, a) => paramSet(s, 'vm', a),
  'vif-param-set': (s, a) => paramSet(s, 'vif', a),
  'network-param-set': (s, a) => paramSet(s, 'network', a),
  'vif-create': (s, a) => {
    const vm = findVm(s, required(a, 'vm-uuid'));
    const network = findNetwork(s, required(a, 'network-uuid'));
    const device = required(a, 'device');
    if (!/^\d+$/.test(device)) throw new XeError(`Error: expected an integer for 'device', got '${device}'`);
    if (s.vifs.some((f) => f.vm === vm.uuid && f.device === Number(device)))
      throw new XeError(`A device with the name given already exists on the selected VM\ndevice: ${device}`);
    const mac = a.mac === undefined || a.mac === 'random' ? randomMac() : a.mac.toLowerCase();
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) throw new XeError(`The MAC address specified is not valid.\nmac: ${a.mac}`);
    const vif = { uuid: randomUUID(), vm: vm.uuid, device: Number(device), network: network.uuid, mac, attached: false, otherConfig: {} };
    s.vifs.push(vif);
    return vif.uuid + '\n';
  },
  'vif-destroy': (s, a) => {
    const vif = select(s, 'vif', a);
    if (vif.attached) throw new XeError('You attempted an operation that was not allowed.\nreason: VIF is currently attached');
    s.vifs = s.vifs.filter((f) => f !== vif);
    return '';
  },
  'network-create': (s, a) => {
    const n = {
      uuid: randomUUID(),
      nameLabel: required(a, 'name-label'),
      bridge: `xapi${s.networks.length}`,
      mtu: Number(a.MTU ?? 1500),
      otherConfig: {},
    };
    s.networks.push(n);
    return n.uuid + '\n';
  },
  'vm-start': (s, a) => {
    startVm(s, select(s, 'vm', a));
    return '';
  },
  'vm-shutdown': (s, a) => {
    shutdownVm(s, select(s, 'vm', a));
    return '';
  },
  'host-disable': (s, a) => {
    logHostCommand(s, 'host-disable', a);
    selectHost(s, a).enabled = false;
    return '';
  },
  'host-enable': (s, a) => {
    logHostCommand(s, 'host-enable', a);
    selectHost(s, a).enabled = true;
    return '';
  },
  'host-evacuate': (s, a) => {
    logHostCommand(s, 'host-evacuate', a);
    evacuateHost(s, selectHost(s, a));
    return '';
  },
  'host-reboot': (s, a) => {
    if ((a.uuid ?? a.host ?? s.host.uuid) !== s.host.uuid && a.host !== s.host.nameLabel) throw invalidUuid('host', a.uuid ?? a.host);
    if (s.host.enabled)
      throw new XeError(`This operation cannot be performed because the host is not disabled.\nhost: ${s.host.uuid} (${s.host.nameLabel})`);
    rebootHost(s);
    return '';
  },
  'simulator-netback': (s) => netbackReport(s),
  'simulator-log': (s) => (s.log ?? []).map((l) => l + '\n').join(''),
};
const READ_ONLY = new Set(['vm-list', 'vif-list', 'network-list', 'host-list', 'simulator-netback', 'simulator-log']);

function main(argv) {
  const [command, ...rest] = argv;
  const args = {};
  const flags = new Set();
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i];
    if (['-s', '-p', '-u', '-pw', '-pwf'].includes(word))
      i++; // connection options: local simulator
    else if (word.startsWith('--')) flags.add(word.slice(2));
    else if (word.includes('=')) args[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1);
    else throw new XeError(`Error: Unexpected argument '${word}'`);
  }
  if (command === 'simulator-seed') return seed(args);
  const run = COMMANDS[command];
  if (!run) throw new XeError(`Unknown command: ${command ?? ''}\nFor usage run: 'xe help'`);
  const state = load();
  const out = run(state, args, flags);
  if (!READ_ONLY.has(command) && !command.endsWith('-param-get')) save(state);
  return out;
}

try {
  process.stdout.write(main(process.argv.slice(2)));
} catch (e) {
  if (!(e instanceof XeError)) throw e;
  process.stderr.write(e.message + '\n');
  process.exitCode = 1;
}
