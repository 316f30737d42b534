// JSON Schema of a playbook: a list of plays, each with tasks and handlers. A task's module key
// (and its arguments) are checked by playbook.ts against the module registry.

import { VARIABLE_NAME_PATTERN } from './inventory.js';

/** Keys a task may have besides its one module. */
export const TASK_KEYWORDS = ['name', 'when', 'loop', 'notify', 'tags', 'register', 'ignore_errors', 'secret', 'no_log'] as const;

/** Ansible keys people will write, and what to use instead. */
export const TASK_KEY_HINTS: Record<string, string> = {
  with_items: 'loop',
  with_list: 'loop',
  with_dict: 'loop',
  loop_control: 'loop',
  ignore_error: 'ignore_errors',
  notifies: 'notify',
  tag: 'tags',
};

const tags = {
  type: ['string', 'array'],
  items: { type: 'string', minLength: 1 },
  'x-message': 'must be a tag or a list of tags',
} as const;

const variables = {
  type: ['object', 'null'],
  propertyNames: { pattern: VARIABLE_NAME_PATTERN, 'x-message': 'must be a variable name (letters, digits and _)' },
} as const;

export const taskSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1 },
    when: {
      type: ['string', 'boolean'],
      'x-message': 'must be true, false or an expression without braces, e.g. "eq facts.cpu.vendor \'AuthenticAMD\'"',
    },
    loop: { type: ['array', 'string'], 'x-message': 'must be a list or a template like "{{ nics }}"' },
    notify: {
      type: ['string', 'array'],
      items: { type: 'string', minLength: 1 },
      'x-message': 'must be a handler name or a list of handler names',
    },
    tags,
    register: {
      type: 'string',
      pattern: VARIABLE_NAME_PATTERN,
      'x-message': 'must be a variable name (letters, digits and _)',
    },
    ignore_errors: { type: 'boolean' },
    // Ansible's no_log: the task's values, file contents and output are redacted from what hvtune prints and saves
    secret: { type: 'boolean' },
    no_log: { type: 'boolean', 'x-message': 'must be true or false (the same as secret:)' },
  },
} as const;

/** One batch of `serial`: a number of hosts, or a percentage of the play's hosts. */
const batchSize = {
  anyOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', pattern: '^(100|[1-9][0-9]?(\\.[0-9]+)?)%$' },
  ],
} as const;

export const playSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['hosts'],
  properties: {
    name: { type: 'string', minLength: 1 },
    hosts: {
      type: ['string', 'array'],
      minLength: 1,
      items: { type: 'string', minLength: 1 },
      'x-message': 'must be a host pattern such as "kvm_hosts" or "hv*:!hv3"',
    },
    vars: variables,
    tasks: { type: ['array', 'null'], items: taskSchema },
    handlers: { type: ['array', 'null'], items: taskSchema },
    gather_facts: { type: 'boolean' },
    tags,
    serial: {
      anyOf: [batchSize, { type: 'array', minItems: 1, items: batchSize }],
      'x-message': 'must be a number of hosts, a percentage such as "20%", or a list of them such as [1, 5, "50%"]',
    },
    max_fail_percentage: {
      type: 'number',
      minimum: 0,
      maximum: 100,
      'x-message': 'must be a percentage from 0 to 100',
    },
    any_errors_fatal: { type: 'boolean' },
    secret_vars: {
      type: 'array',
      items: { type: 'string', pattern: VARIABLE_NAME_PATTERN },
      'x-message': 'must be a list of variable names whose values are secret, e.g. [db_password, api_token]',
    },
  },
  'x-key-hints': { pre_tasks: 'tasks', post_tasks: 'tasks', gather_facts_: 'gather_facts', task: 'tasks', handler: 'handlers' },
} as const;

export const playbookSchema = {
  type: 'array',
  minItems: 1,
  items: playSchema,
} as const;
