// A small module registry for loading playbooks in tests: schemas shaped like the real modules'
// (test input, not a stand-in for them).
import type { ModuleRegistry } from '../../../src/playbook.js';

export const fakeModules: ModuleRegistry = new Map([
  [
    'sysctl',
    {
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['values'],
        properties: {
          values: {
            type: 'object',
            minProperties: 1,
            propertyNames: { pattern: '^[a-z0-9_]+(\\.[a-z0-9_-]+)+$', 'x-message': 'must be a sysctl name like net.core.somaxconn' },
            additionalProperties: {
              type: ['integer', 'string', 'array'],
              pattern: '^[0-9]+([ \\t]+[0-9]+)*$',
              items: { type: 'integer' },
              'x-message': 'must be an integer or integers separated by spaces',
            },
          },
          file: { type: 'string', pattern: '^/etc/sysctl\\.d/[A-Za-z0-9_.-]+\\.conf$' },
        },
      },
    },
  ],
  [
    'service',
    {
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9@_.-]+$' },
          state: { enum: ['started', 'stopped', 'restarted'] },
          enabled: { type: 'boolean' },
        },
      },
      validate(args: { name: string; state?: string }) {
        return args.name === 'sshd' && args.state === 'stopped'
          ? [{ path: 'state', message: 'stopping sshd would cut the connection hvtune runs on' }]
          : [];
      },
    },
  ],
  [
    'nic',
    {
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['device'],
        properties: {
          device: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,15}$' },
          rx: { type: 'integer', minimum: 1 },
          tx: { type: 'integer', minimum: 1 },
        },
      },
    },
  ],
]);
