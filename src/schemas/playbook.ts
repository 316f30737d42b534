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
  include: 'include_tasks',
  include_role: 'profiles: on the play',
  import_role: 'profiles: on the play',
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

/** A profile's name: a file or folder name under a profiles/ directory, never a path. */
export const PROFILE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';

const profileNames = {
  type: 'array',
  items: { type: 'string', pattern: PROFILE_NAME_PATTERN },
  'x-message': 'must be a list of profile names (profiles/NAME.yml or profiles/NAME/), e.g. [kvm-host-network]',
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
    // files of variables, relative to the playbook's folder; above `vars:` as in Ansible
    vars_files: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      'x-message': 'must be a list of YAML files of variables (not templated), e.g. [vars/site.yml]',
    },
    profiles: profileNames,
  },
  'x-key-hints': {
    pre_tasks: 'tasks',
    post_tasks: 'tasks',
    gather_facts_: 'gather_facts',
    task: 'tasks',
    handler: 'handlers',
    roles: 'profiles',
    profile: 'profiles',
  },
} as const;

export const playbookSchema = {
  type: 'array',
  minItems: 1,
  items: playSchema,
} as const;

/** A playbook entry that is another playbook's plays, read at load time. */
export const importPlaybookSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['import_playbook'],
  properties: {
    import_playbook: { type: 'string', minLength: 1, 'x-message': 'must be a playbook file, relative to this one' },
    name: { type: 'string', minLength: 1 },
    tags,
  },
} as const;

/** Keys of a task entry that pulls in a file of tasks (import_tasks, or include_tasks read the same way). */
export const INCLUDE_TASK_KEYS = ['import_tasks', 'include_tasks'] as const;
export const INCLUDE_TASK_KEYWORDS = ['name', 'when', 'tags'] as const;

/** A file of tasks (import_tasks, a profile's tasks.yml or handlers.yml). */
export const tasksFileSchema = {
  type: ['array', 'null'],
  items: taskSchema,
  'x-message': 'must be a list of tasks',
} as const;

/** A file of variables (vars_files, a profile's defaults.yml or vars.yml). */
export const varsFileSchema = { ...variables, 'x-message': 'must be a mapping of variables' } as const;

/** A profile folder's meta.yml. */
export const profileMetaSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    description: { type: 'string' },
    include: {
      type: ['string', 'array'],
      pattern: PROFILE_NAME_PATTERN,
      items: { type: 'string', pattern: PROFILE_NAME_PATTERN },
      'x-message': 'must be a profile name or a list of them, e.g. [kvm-host-network]',
    },
  },
} as const;

/** A profile in one file, profiles/NAME.yml: what a profile folder holds, as keys. */
export const profileSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...profileMetaSchema.properties,
    defaults: variables,
    vars: variables,
    tasks: { type: ['array', 'null'], items: taskSchema },
    handlers: { type: ['array', 'null'], items: taskSchema },
  },
  'x-key-hints': { dependencies: 'include', includes: 'include', default: 'defaults', task: 'tasks', handler: 'handlers' },
} as const;
