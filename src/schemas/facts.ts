// JSON Schema of gathered facts (src/facts/types.ts), so templates can be checked before anything
// connects: `{{facts.cpu.vendr}}` is an error at its position, not on every host at run time.
// Only hostname and kernel are always there. A fact added to src/facts/types.ts belongs here too:
// test/unit/facts/schema.test.ts checks the recorded fixtures and parsed gatherer output against it.

const nullable = (type: string) => ({ type: [type, 'null'] });
const numbers = { type: 'array', items: { type: 'integer' } } as const;
const strings = { type: 'array', items: { type: 'string' } } as const;
const closed = (properties: Record<string, unknown>) => ({ type: 'object', properties, additionalProperties: false });

const cpu = closed({
  vendor: { type: 'string' },
  model: { type: 'string' },
  flags: strings,
  features: closed({
    vmx: { type: 'boolean' },
    svm: { type: 'boolean' },
    ept: { type: 'boolean' },
    npt: { type: 'boolean' },
    pdpe1gb: { type: 'boolean' },
    pse: { type: 'boolean' },
    hypervisor: { type: 'boolean' },
  }),
  sockets: { type: 'integer' },
  coresPerSocket: { type: 'integer' },
  threadsPerCore: { type: 'integer' },
  hyperThreading: { type: 'boolean' },
  online: numbers,
  threads: {
    type: 'array',
    items: closed({
      id: { type: 'integer' },
      core: { type: 'integer' },
      socket: { type: 'integer' },
      node: nullable('integer'),
      siblings: numbers,
    }),
  },
});

const numa = closed({
  nodes: {
    type: 'array',
    items: closed({
      id: { type: 'integer' },
      cpus: numbers,
      memTotalKiB: nullable('integer'),
      memFreeKiB: nullable('integer'),
      distances: numbers,
      hugepages: { type: 'object', additionalProperties: closed({ total: { type: 'integer' }, free: nullable('integer') }) },
    }),
  },
});

const nic = closed({
  name: { type: 'string' },
  driver: nullable('string'),
  mac: nullable('string'),
  pci: nullable('string'),
  numaNode: nullable('integer'),
  virtual: { type: 'boolean' },
  speedMbps: nullable('integer'),
  mtu: nullable('integer'),
  operstate: nullable('string'),
  rxQueues: { type: 'integer' },
  txQueues: { type: 'integer' },
  ring: {
    ...closed({ rxMax: nullable('integer'), txMax: nullable('integer'), rx: nullable('integer'), tx: nullable('integer') }),
    type: ['object', 'null'],
  },
  channels: {
    ...closed({
      maxCombined: nullable('integer'),
      maxRx: nullable('integer'),
      maxTx: nullable('integer'),
      combined: nullable('integer'),
      rx: nullable('integer'),
      tx: nullable('integer'),
    }),
    type: ['object', 'null'],
  },
  virtio: nullable('string'),
  interrupts: { ...closed({ input: numbers, output: numbers, inputCpus: { type: 'array', items: numbers } }), type: ['object', 'null'] },
  irq: {
    type: ['array', 'null'],
    items: {
      ...closed({
        irq: { type: 'integer' },
        queue: { type: 'string' },
        kind: { type: 'string', enum: ['rx', 'tx', 'combined'] },
        index: { type: 'integer' },
        affinity: { type: ['array', 'null'], items: { type: 'integer' } },
        counts: numbers,
      }),
      required: ['irq', 'queue', 'kind', 'index', 'affinity', 'counts'],
    },
  },
});

const memory = closed({
  totalKiB: nullable('integer'),
  freeKiB: nullable('integer'),
  availableKiB: nullable('integer'),
  hugepages: closed({
    defaultSizeKiB: nullable('integer'),
    pools: {
      type: 'array',
      items: closed({
        sizeKiB: { type: 'integer' },
        total: { type: 'integer' },
        free: nullable('integer'),
        reserved: nullable('integer'),
        surplus: nullable('integer'),
      }),
    },
  }),
  thp: {
    ...closed({ enabled: nullable('string'), defrag: nullable('string'), enabledChoices: strings, defragChoices: strings }),
    type: ['object', 'null'],
  },
  ksmRun: nullable('integer'),
});

const virt = closed({
  role: { type: 'string' },
  roles: strings,
  hypervisor: nullable('string'),
  kvm: closed({ device: { type: 'boolean' }, virsh: { type: 'boolean' }, libvirtd: { type: 'boolean' } }),
  xen: closed({ dom0: { type: 'boolean' }, xe: { type: 'boolean' } }),
});

const domain = closed({
  name: { type: 'string' },
  state: { type: 'string' },
  vcpus: nullable('integer'),
  maxVcpus: nullable('integer'),
  memoryKiB: nullable('integer'),
  maxMemoryKiB: nullable('integer'),
});

export const factsSchema = {
  ...closed({
    hostname: { type: 'string' },
    kernel: closed({ release: { type: 'string' }, version: numbers, build: { type: 'string' } }),
    distribution: closed({ id: { type: 'string' }, version: { type: 'string' }, name: { type: 'string' }, like: strings }),
    cpu,
    numa,
    nics: { type: 'array', items: nic },
    memory,
    cmdline: { type: 'string' },
    boot: closed({ tool: { type: 'string' }, firmware: { type: 'string' }, grubConfig: nullable('string'), bls: { type: 'boolean' } }),
    init: closed({ system: { type: 'string' }, pid1: { type: 'string' } }),
    ethtoolPersistence: strings,
    virt,
    domains: { type: ['array', 'null'], items: domain },
    commands: strings,
    daemons: closed({
      running: strings,
      tuned: closed({ profile: nullable('string'), isolatedCores: { type: ['array', 'null'], items: { type: 'integer' } } }),
    }),
  }),
  required: ['hostname', 'kernel'],
} as const;
