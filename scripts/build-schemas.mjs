// Precompile every schema hvtune ships (playbook, inventory, extra vars, each module's arguments)
// into standalone validators, so a CLI run neither loads ajv nor compiles schemas at start-up.
// Runs after tsc (it reads dist/), as part of `npm run build`; writes
// dist/src/schemas/validators.cjs, which src/schema.ts looks up by schemaKey(schema).

import { writeFileSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);

const { standaloneValidators } = await load('src/schema.js');
const { playbookSchema } = await load('src/schemas/playbook.js');
const { inventorySchema, connectionProperties } = await load('src/schemas/inventory.js');
const { loadModules } = await load('modules/index.js');

const modules = await loadModules();
const schemas = [
  playbookSchema,
  inventorySchema,
  // the schema src/inventory.ts builds for -e key=value (same JSON, so the same key)
  { type: 'object', properties: connectionProperties },
  ...[...modules.values()].map((m) => m.schema),
];

const out = new URL('src/schemas/validators.cjs', dist);
const code = standaloneValidators(schemas);
writeFileSync(out, `// Built by scripts/build-schemas.mjs from the schemas of this build; do not edit.\n${code}\n`);
console.log(`${out.pathname}: ${schemas.length} schemas, ${Math.round(code.length / 1024)} KiB`);
