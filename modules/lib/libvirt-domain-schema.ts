// JSON Schema of libvirt_domain's arguments: what `hvtune doc libvirt_domain` prints. Patterns
// keep every value a plain word, so nothing from a playbook can act as shell or virsh syntax.

// Globs as src/glob.ts and the host's `case` read them alike: `*`, `?` and classes such as [12] or
// [!3]; not [^3], which dash (Debian's sh) reads as the characters ^ and 3.
const DOMAIN_PATTERN = '^[A-Za-z0-9_*?[][A-Za-z0-9_.+:*?[\\]!-]{0,63}$';
const CPUSET = '^\\^?[0-9]{1,4}(-[0-9]{1,4})?(,\\^?[0-9]{1,4}(-[0-9]{1,4})?)*$';
import { RELATIVE_MEMORY } from './relative-memory.js';

const MEMORY = '^[0-9]{1,15}\\s*(b|bytes|[KMGT]B?|[KMGT]iB|[kmgt])?$';
const cpuset = (description: string) => ({
  type: 'string',
  pattern: CPUSET,
  description,
  'x-message': 'must be a CPU list such as "1-3,5" or "0-7,^4"',
});
const memory = (description: string) => ({
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: MEMORY },
  ],
  description: `${description} A number is KiB; units: KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB, TB (powers of 1000).`,
  'x-message': 'must be a size such as 2GiB, 512MiB or a number of KiB',
});

const PCI_ADDRESS = '^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\\.[0-7]$';
const NETDEV = '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}$';
const NUMA_MODE = { enum: ['strict', 'preferred', 'interleave', 'restrictive'], description: 'Allocation policy.' } as const;
const pciSource = (what: string) => ({
  description: `${what}: {pci: "0000:3b:02.2"} or a VF of an SR-IOV NIC, {pf: ens1f0, vf: 3} (its address read on the host from /sys/class/net/PF/device/virtfnN).`,
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['pci'],
      properties: { pci: { type: 'string', pattern: PCI_ADDRESS, description: 'PCI address (domain:bus:slot.function).' } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['pf', 'vf'],
      properties: {
        pf: { type: 'string', pattern: NETDEV, description: 'The physical function: a network interface name.' },
        vf: { type: 'integer', minimum: 0, maximum: 4095, description: 'VF number.' },
      },
    },
  ],
});

// A limit relative to the domain's own <memory>: one playbook value fits domains of every size.
const relativeMemory = (description: string) => ({
  anyOf: [...memory('').anyOf, { type: 'string', pattern: RELATIVE_MEMORY }],
  description:
    `${description} A number is KiB; units: KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB, TB (powers of 1000); ` +
    "or relative to the domain's memory: memory+25% or memory+1GiB.",
  'x-message': "must be a size such as 2GiB, 512MiB or a number of KiB, or relative to the domain's memory (memory+25%, memory+1GiB)",
});

export const libvirtDomainSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: {
      description:
        'Domain name on this host, a glob (vm-*, web[12]), or a list of them. A plain name that does not exist is an error; a glob that matches nothing is a warning.',
      anyOf: [
        { type: 'string', pattern: DOMAIN_PATTERN },
        { type: 'array', minItems: 1, items: { type: 'string', pattern: DOMAIN_PATTERN } },
      ],
      'x-message': 'must be a domain name or glob (letters, digits, _ . + : - * ? [ ] !)',
    },
    uri: {
      type: 'string',
      pattern: '^[a-z0-9+]+://[A-Za-z0-9_.@:-]*/[a-z]+$',
      default: 'qemu:///system',
      description: 'libvirt connection URI (virsh -c).',
    },
    vcpus: {
      type: 'integer',
      minimum: 1,
      maximum: 4096,
      description:
        'vCPUs the domain starts with (<vcpu>, or its current= attribute when a hot-plug maximum is set). Takes effect at the next start.',
    },
    vcpu_placement: {
      type: 'object',
      additionalProperties: false,
      description: 'Where vCPUs may run without per-vCPU pins (<vcpu placement cpuset>). Takes effect at the next start.',
      properties: {
        placement: { enum: ['static', 'auto'], description: 'auto: numad chooses the host CPUs and memory node (numad must run).' },
        cpuset: cpuset('Host CPUs every vCPU may run on (with placement static).'),
      },
    },
    cputune: {
      type: 'object',
      additionalProperties: false,
      description: 'CPU placement, weight and bandwidth (<cputune>). All of them apply live on a running domain.',
      properties: {
        vcpupin: {
          type: 'object',
          minProperties: 1,
          description: 'vCPU number → host CPUs it may run on (virsh vcpupin).',
          propertyNames: { pattern: '^[0-9]{1,4}$', 'x-message': 'must be a vCPU number' },
          additionalProperties: { anyOf: [cpuset('Host CPUs.'), { type: 'integer', minimum: 0 }] },
        },
        emulatorpin: cpuset('Host CPUs for the emulator threads, including vhost-net workers (virsh emulatorpin).'),
        shares: {
          type: 'integer',
          minimum: 2,
          maximum: 262144,
          description: 'CPU weight relative to other domains (virsh schedinfo cpu_shares).',
        },
        period: {
          type: 'integer',
          minimum: 1000,
          maximum: 1000000,
          description: 'CFS period of each vCPU in µs (virsh schedinfo vcpu_period).',
        },
        quota: {
          type: 'integer',
          minimum: -1,
          maximum: 17592186044415,
          description: 'CPU time each vCPU may use per period in µs, -1 = unlimited (virsh schedinfo vcpu_quota); 1000 at least.',
        },
      },
    },
    numatune: {
      type: 'object',
      additionalProperties: false,
      description: 'Guest memory NUMA policy (<numatune><memory/>). Takes effect at the next start.',
      properties: {
        mode: NUMA_MODE,
        nodeset: cpuset('Host NUMA nodes, e.g. the node of the NIC (/sys/class/net/IF/device/numa_node).'),
        memnode: {
          type: 'array',
          minItems: 1,
          description: 'Per guest NUMA cell (cpu numa): which host nodes back its memory (<memnode cellid mode nodeset/>).',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['cellid'],
            properties: {
              cellid: { type: 'integer', minimum: 0, maximum: 255, description: 'Guest NUMA cell id.' },
              mode: { enum: ['strict', 'preferred', 'interleave', 'restrictive'], description: 'Allocation policy.' },
              nodeset: cpuset('Host NUMA nodes.'),
            },
          },
        },
      },
    },
    memory_backing: {
      type: 'object',
      additionalProperties: false,
      description: 'Memory backing (<memoryBacking>). Takes effect at the next start.',
      properties: {
        hugepages: { type: 'boolean', description: 'Back guest memory with huge pages (the host needs a hugepage pool).' },
      },
    },
    cpu: {
      type: 'object',
      additionalProperties: false,
      description: 'Guest CPU model (<cpu>). Takes effect at the next start.',
      properties: {
        mode: {
          enum: ['host-passthrough', 'host-model', 'custom', 'maximum'],
          description:
            'host-passthrough exposes the host CPU as is; switching away from custom drops <model>/<feature>, which only custom uses.',
        },
        topology: {
          type: 'object',
          additionalProperties: false,
          required: ['sockets', 'cores', 'threads'],
          description: 'Guest CPU topology (<topology/>): sockets × dies × cores × threads must equal the vCPUs.',
          properties: {
            sockets: { type: 'integer', minimum: 1, maximum: 4096 },
            dies: { type: 'integer', minimum: 1, maximum: 4096 },
            cores: { type: 'integer', minimum: 1, maximum: 4096 },
            threads: { type: 'integer', minimum: 1, maximum: 4096 },
          },
        },
        cache: {
          enum: ['passthrough', 'emulate', 'disable'],
          description: 'CPU cache information the guest sees (<cache mode/>); passthrough needs mode host-passthrough.',
        },
        numa: {
          type: 'array',
          minItems: 1,
          description:
            'Guest NUMA cells (<numa><cell id cpus memory/>): ids 0, 1…, each vCPU in one cell, memory adding up to the domain memory. Cells not listed are removed.',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id', 'cpus', 'memory'],
            properties: {
              id: { type: 'integer', minimum: 0, maximum: 255, description: 'Cell id.' },
              cpus: cpuset('Guest vCPUs of the cell.'),
              memory: memory('Memory of the cell.'),
            },
          },
        },
      },
    },
    features: {
      type: 'object',
      additionalProperties: false,
      description: 'Hypervisor features (<features>). Takes effect at the next start.',
      properties: {
        hyperv: {
          type: 'object',
          additionalProperties: false,
          description:
            'Hyper-V enlightenments for Windows guests (<hyperv><NAME state/>): true = on, false = off. spinlocks: retries before a spinning vCPU yields (4095 or more), false = off.',
          properties: {
            ...Object.fromEntries(
              [
                'relaxed',
                'vapic',
                'vpindex',
                'runtime',
                'synic',
                'stimer',
                'reset',
                'frequencies',
                'reenlightenment',
                'tlbflush',
                'ipi',
              ].map((n) => [n, { type: 'boolean' }]),
            ),
            spinlocks: { anyOf: [{ type: 'integer', minimum: 4095, maximum: 4294967295 }, { const: false }] },
          },
        },
      },
    },
    hostdevs: {
      type: 'array',
      description:
        'PCI devices passed through to the guest (<hostdev mode="subsystem" type="pci" managed="yes">), by address or as a VF of a PF. ' +
        'Only these are touched; state: absent removes one. Takes effect at the next start.',
      items: {
        oneOf: pciSource('').oneOf.map((o) => ({
          ...o,
          properties: { ...o.properties, state: { enum: ['present', 'absent'], default: 'present' } },
        })),
      },
    },
    interfaces: {
      type: 'array',
      description: 'Network interfaces to tune, each found by MAC, target device or position. Takes effect at the next start.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['match'],
        properties: {
          match: {
            description: 'Which interface: {mac: "fa:9b:4d:23:e1:01"}, {target: vnic1.1} or {index: 1} (0 = first).',
            oneOf: [
              {
                type: 'object',
                additionalProperties: false,
                required: ['mac'],
                properties: { mac: { type: 'string', pattern: '^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$', description: 'MAC address.' } },
              },
              {
                type: 'object',
                additionalProperties: false,
                required: ['target'],
                properties: { target: { type: 'string', pattern: '^[A-Za-z0-9_.:@-]{1,15}$', description: 'Host-side device name.' } },
              },
              {
                type: 'object',
                additionalProperties: false,
                required: ['index'],
                properties: { index: { type: 'integer', minimum: 0, maximum: 1023, description: 'Position among the interfaces.' } },
              },
            ],
          },
          type: {
            enum: ['hostdev', 'direct'],
            description:
              'hostdev: a VF passed through (<interface type="hostdev">, source {pci} or {pf, vf}); direct: macvtap on a host NIC (source {dev, mode}). ' +
              "An interface matched by MAC that is not there yet is added; the old kind's source, target (and for hostdev model, driver) go.",
          },
          source: {
            description: 'For type hostdev: {pci: …} or {pf: ens1f0, vf: 2}; for type direct: {dev: ens1f0, mode: bridge}.',
            oneOf: [
              ...pciSource('').oneOf,
              {
                type: 'object',
                additionalProperties: false,
                required: ['dev'],
                properties: {
                  dev: { type: 'string', pattern: NETDEV, description: 'Host network interface of the macvtap.' },
                  mode: {
                    enum: ['bridge', 'vepa', 'private', 'passthrough'],
                    default: 'vepa',
                    description: 'macvtap mode; bridge lets guests on the same NIC talk to each other.',
                  },
                },
              },
            ],
          },
          vlan: { type: 'integer', minimum: 1, maximum: 4094, description: 'VLAN tag (<vlan><tag id/>), e.g. of a VF.' },
          coalesce: {
            type: 'object',
            additionalProperties: false,
            description: 'Interrupt coalescing of the tap (<coalesce><rx><frames max/>).',
            properties: { rx_frames: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'RX frames per interrupt.' } },
          },
          model: { type: 'string', pattern: '^[a-z0-9_-]{1,32}$', description: 'Device model, e.g. virtio.' },
          driver: {
            type: 'object',
            additionalProperties: false,
            description: 'Backend driver (<driver/>).',
            properties: {
              name: { enum: ['vhost', 'qemu'], description: 'vhost = in-kernel vhost-net backend.' },
              queues: {
                type: 'integer',
                minimum: 1,
                maximum: 256,
                description: 'Multi-queue virtio-net: at most the vCPUs; then set `ethtool -L eth0 combined M` (M ≤ queues) in the guest.',
              },
              rx_queue_size: { enum: [256, 512, 1024], description: 'virtio RX ring size.' },
              tx_queue_size: { enum: [256, 512, 1024], description: 'virtio TX ring size.' },
            },
          },
        },
      },
    },
    disks: {
      type: 'array',
      description: 'Disks to tune, each found by target device. Takes effect at the next start.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['match'],
        properties: {
          match: {
            type: 'object',
            additionalProperties: false,
            required: ['target'],
            description: 'Which disk: {target: vda}.',
            properties: { target: { type: 'string', pattern: '^[a-z]{1,8}[0-9]{0,3}$', description: 'Guest device name (vda, sdb).' } },
          },
          bus: {
            enum: ['virtio', 'scsi', 'sata', 'ide', 'usb'],
            description: 'Disk bus (<target bus/>); its old <address> is dropped for libvirt to assign one that fits.',
          },
          driver: {
            type: 'object',
            additionalProperties: false,
            description: 'Disk driver (<driver/>).',
            properties: {
              cache: {
                enum: ['none', 'writethrough', 'writeback', 'directsync', 'unsafe', 'default'],
                description: 'Host page cache use; none = O_DIRECT.',
              },
              io: { enum: ['native', 'threads', 'io_uring'], description: 'AIO backend; native needs cache none or directsync.' },
            },
          },
        },
      },
    },
    blkiotune: {
      type: 'object',
      additionalProperties: false,
      description: 'Block I/O weight (virsh blkiotune). Applies live on a running domain.',
      properties: { weight: { type: 'integer', minimum: 100, maximum: 1000, description: 'Relative I/O weight.' } },
    },
    memtune: {
      type: 'object',
      additionalProperties: false,
      description: 'Memory limits of the domain cgroup (virsh memtune). Apply live on a running domain.',
      properties: {
        hard_limit: relativeMemory('Hard limit: the guest is OOM-killed above it, so leave room for QEMU itself.'),
        soft_limit: relativeMemory('Soft limit under memory contention.'),
        swap_hard_limit: relativeMemory('Memory plus swap limit.'),
      },
    },
    restart: {
      enum: ['never', 'if-needed'],
      default: 'never',
      description:
        'never: changes that need a restart are defined and reported as a pending vm-restart. if-needed: shut the domain down and start it again.',
    },
    shutdown_timeout: {
      type: 'integer',
      minimum: 1,
      maximum: 3600,
      default: 120,
      description: 'Seconds to wait for a guest shutdown when restarting.',
    },
    allow_destroy: {
      type: 'boolean',
      default: false,
      description: 'Force a domain off (virsh destroy, like pulling the plug) when it does not shut down in time.',
    },
  },
} as const;
