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
    cputune: {
      type: 'object',
      additionalProperties: false,
      description: 'CPU placement and weight (<cputune>). All three apply live on a running domain.',
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
      },
    },
    numatune: {
      type: 'object',
      additionalProperties: false,
      description: 'Guest memory NUMA policy (<numatune><memory/>). Takes effect at the next start.',
      properties: {
        mode: { enum: ['strict', 'preferred', 'interleave', 'restrictive'], description: 'Allocation policy.' },
        nodeset: cpuset('Host NUMA nodes, e.g. the node of the NIC (/sys/class/net/IF/device/numa_node).'),
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
