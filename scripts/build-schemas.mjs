// Precompile every schema hvtune ships (playbook, inventory, extra vars, each module's arguments)
// into standalone validators, so a CLI run neither loads ajv nor compiles schemas at start-up.
// Runs after tsc (it reads dist/), as part of `npm run build`; writes
// dist/src/schemas/validators/KEY.cjs, which src/schema.ts looks up by schemaKey(schema).

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);

const { standaloneValidators } = await load('src/schema.js');
const playbook = await load('src/schemas/playbook.js');
const { inventorySchema, connectionProperties } = await load('src/schemas/inventory.js');
const { loadModules } = await load('modules/index.js');

const modules = await loadModules();
const schemas = [
  playbook.playbookSchema,
  // composition (src/compose.ts): entries and files a playbook pulls in
  playbook.playSchema,
  playbook.importPlaybookSchema,
  playbook.tasksFileSchema,
  playbook.varsFileSchema,
  playbook.profileMetaSchema,
  playbook.profileSchema,
  inventorySchema,
  // the schema src/inventory.ts builds for -e key=value (same JSON, so the same key)
  { type: 'object', properties: connectionProperties },
  ...[...modules.values()].map((m) => m.schema),
];

const dir = new URL('src/schemas/validators/', dist);
rmSync(dir, { recursive: true, force: true }); // validators of schemas that changed since
mkdirSync(dir, { recursive: true });
let bytes = 0;
for (const [key, code] of standaloneValidators(schemas)) {
  writeFileSync(new URL(`${key}.cjs`, dir), `// Built by scripts/build-schemas.mjs; do not edit.\n${code}\n`);
  bytes += code.length;
}
console.log(`${dir.pathname}: ${schemas.length} schemas, ${Math.round(bytes / 1024)} KiB`);
