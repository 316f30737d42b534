// JSON Schema of an inventory file: the YAML shape Ansible users know (all / children / hosts /
// vars), with hvtune's connection keys or Ansible's ansible_* names for them.

export const HOST_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]*$';
export const GROUP_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_-]*$';
export const VARIABLE_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

/** Keys that say how to reach a host. Set on a host, or as variables of a group or `-e`. */
export const CONNECTION_KEYS = ['address', 'port', 'user', 'identity_file', 'password', 'jump', 'become', 'reboot_command'] as const;
export type ConnectionKey = (typeof CONNECTION_KEYS)[number];

/** What Ansible users will type, and what hvtune calls it. */
export const ANSIBLE_CONNECTION_NAMES: Record<string, ConnectionKey> = {
  ansible_host: 'address',
  ansible_ssh_host: 'address',
  ansible_port: 'port',
  ansible_ssh_port: 'port',
  ansible_user: 'user',
  ansible_ssh_user: 'user',
  ansible_ssh_private_key_file: 'identity_file',
  ansible_password: 'password',
  ansible_ssh_pass: 'password',
  ansible_become: 'become',
};

/** Ansible's names, typed as the keys they stand for (an INI `ansible_port=22` reads as a number). */
const ansibleConnectionProperties = () =>
  Object.fromEntries(Object.entries(ANSIBLE_CONNECTION_NAMES).map(([theirs, ours]) => [theirs, connectionProperties[ours]]));

export const connectionProperties = {
  address: {
    type: 'string',
    pattern: '^[A-Za-z0-9_.:%-]+$',
    'x-message': 'must be a host name or an IP address',
  },
  port: { type: 'integer', minimum: 1, maximum: 65535 },
  user: {
    type: 'string',
    pattern: '^[A-Za-z0-9_][A-Za-z0-9_.@-]*$',
    'x-message': 'must be a user name (letters, digits, _ . @ -)',
  },
  identity_file: { type: 'string', minLength: 1 },
  password: { type: 'string' },
  jump: {
    type: 'string',
    pattern: HOST_NAME_PATTERN,
    'x-message': 'must be the name of a host of this inventory',
  },
  become: { type: 'boolean' },
  reboot_command: {
    type: 'array',
    minItems: 1,
    items: { type: 'string', minLength: 1 },
    'x-message': 'must be a command as a list of words, such as [systemctl, reboot]',
    description: 'How the reboot module reboots this host (default: systemctl reboot).',
  },
} as const;

const variables = {
  type: ['object', 'null'],
  propertyNames: { pattern: VARIABLE_NAME_PATTERN, 'x-message': 'must be a variable name (letters, digits and _)' },
} as const;

/** Variables of a group: anything, but connection keys (ours and Ansible's) must have their types. */
const groupVariables = { ...variables, properties: { ...connectionProperties, ...ansibleConnectionProperties() } } as const;

/** A file of group_vars/ or host_vars/: a mapping of variables, as group vars. */
export const variablesFileSchema = groupVariables;

/**
 * A host: its connection keys and variables side by side as in Ansible (`hv1: {ansible_host: …,
 * nic: ens1f0}`), or hvtune's older shape with the variables under `vars:`; both work.
 */
const hostEntry = {
  ...variables,
  properties: { ...connectionProperties, ...ansibleConnectionProperties(), vars: variables },
} as const;

export const inventorySchema = {
  $defs: {
    group: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        hosts: {
          type: ['object', 'null'],
          propertyNames: { pattern: HOST_NAME_PATTERN, 'x-message': 'must be a host name (letters, digits, _ . -)' },
          additionalProperties: hostEntry,
        },
        vars: groupVariables,
        children: {
          type: ['object', 'null'],
          propertyNames: { pattern: GROUP_NAME_PATTERN, 'x-message': 'must be a group name (letters, digits, _ -)' },
          additionalProperties: { $ref: '#/$defs/group' },
        },
      },
    },
  },
  type: 'object',
  propertyNames: { pattern: GROUP_NAME_PATTERN, 'x-message': 'must be a group name (letters, digits, _ -)' },
  additionalProperties: { $ref: '#/$defs/group' },
} as const;
