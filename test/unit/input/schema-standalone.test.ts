// The precompiled validators that `npm run build` ships must report exactly what ajv.compile
// reports, since src/schema.ts turns those error objects into messages. Compares both on every
// shipped schema with the repository's playbooks and inventory and with wrong values of every key.

import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, test } from 'vitest';
import { loadModules } from '../../../modules/index.js';
import { compileSchema, schemaKey, standaloneValidators } from '../../../src/schema.js';
import { inventorySchema } from '../../../src/schemas/inventory.js';
import { playbookSchema } from '../../../src/schemas/playbook.js';

const root = new URL('../../../', import.meta.url);
const readYaml = (path: string) => parse(readFileSync(new URL(path, root), 'utf8')) as unknown;
const playbooks = readdirSync(new URL('playbooks/', root))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => readYaml(`playbooks/${f}`) as { tasks?: Record<string, unknown>[] }[]);
// the shipped profiles hold the playbooks' tasks: their arguments are samples too
const profiles = readdirSync(new URL('profiles/', root))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => readYaml(`profiles/${f}`) as { tasks?: Record<string, unknown>[] });

const WRONG_VALUES: unknown[] = [null, 'yes', '', 'a b;rm -rf /', -1, 0, 1.5, 2 ** 40, true, [], [{}], ['x', 'x'], { a: {} }];

/** Wrong and right values for a schema: the whole value, then each known key in turn. */
function valuesFor(schema: Record<string, unknown>, samples: unknown[]): unknown[] {
  const keys = Object.keys((schema.properties as object | undefined) ?? {});
  return [
    ...samples,
    ...WRONG_VALUES,
    {},
    { no_such_key: 1, adress: 'x' },
    ...keys.flatMap((key) => WRONG_VALUES.map((v) => ({ [key]: v }))),
    ...samples.flatMap((s) => (s && typeof s === 'object' && !Array.isArray(s) ? keys.map((key) => ({ ...s, [key]: [{}] })) : [])),
  ];
}

const modules = await loadModules();
const argsOf = (module: string) =>
  [...playbooks.flat(), ...profiles].flatMap((play) => (play?.tasks ?? []).map((t) => t[module]).filter((a) => a !== undefined));

const cases: [string, Record<string, unknown>, unknown[]][] = [
  ['playbook', playbookSchema, [...playbooks, [{ hosts: 1, tasks: [{ name: 2, with_items: [] }] }], [{ hosts: 'all', handlers: {} }]]],
  ['inventory', inventorySchema, [readYaml('inventory/example.yml'), { all: { hosts: { h1: { port: 'ssh' } } } }]],
  ...[...modules.values()].map((m): [string, Record<string, unknown>, unknown[]] => [
    m.name,
    m.schema as Record<string, unknown>,
    argsOf(m.name),
  ]),
];

// Evaluate the generated CommonJS as the build's dist/src/schemas/validators/KEY.cjs would be.
const exported: Record<string, ValidateFunction> = {};
for (const [key, code] of standaloneValidators(cases.map(([, schema]) => schema))) {
  const module = { exports: {} as ValidateFunction };
  new Function('require', 'module', 'exports', code)(createRequire(import.meta.url), module, module.exports);
  exported[key] = module.exports;
}

describe.each(cases)('standalone validator of %s', (_name, schema, samples) => {
  test('reports the same errors as ajv.compile', () => {
    const precompiled = exported[schemaKey(schema)];
    const runtime = compileSchema(schema);
    expect(precompiled).toBeTypeOf('function');
    expect(runtime).toHaveProperty('schemaEnv'); // compiled by ajv here: the sources have no build
    for (const value of valuesFor(schema, samples)) {
      const ok = runtime(value);
      expect({ value, ok: precompiled(value), errors: precompiled.errors }).toEqual({ value, ok, errors: runtime.errors });
    }
  });
});

test('schema keys follow the content, key order included', () => {
  expect(schemaKey({ type: 'string', minLength: 1 })).toBe(schemaKey({ type: 'string', minLength: 1 }));
  expect(schemaKey({ type: 'string', minLength: 1 })).not.toBe(schemaKey({ type: 'string', minLength: 2 }));
  expect(schemaKey({ minLength: 1, type: 'string' })).not.toBe(schemaKey({ type: 'string', minLength: 1 }));
});
