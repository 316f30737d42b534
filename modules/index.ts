// The module registry: every file of this folder that default-exports a module. A duplicate name
// fails at start-up, like mgmt's RegisterResource.

import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Module } from '../src/module.js';

const here = dirname(fileURLToPath(import.meta.url));

function isModule(value: unknown): value is Module {
  const m = value as Module | undefined;
  return !!m && typeof m.name === 'string' && typeof m.plan === 'function' && typeof m.read === 'function';
}

let registry: Promise<ReadonlyMap<string, Module>> | undefined;

export function loadModules(): Promise<ReadonlyMap<string, Module>> {
  registry ??= (async () => {
    const files = readdirSync(here)
      .filter((f) => /\.(ts|js)$/.test(f) && !/\.d\.ts$/.test(f) && !/^index\./.test(f))
      .sort();
    const map = new Map<string, Module>();
    for (const file of files) {
      const mod = (await import(pathToFileURL(`${here}/${file}`).href)) as { default?: unknown };
      if (!isModule(mod.default)) continue;
      if (map.has(mod.default.name)) throw new Error(`two modules are named ${mod.default.name} (${file})`);
      map.set(mod.default.name, mod.default);
    }
    return map;
  })();
  return registry;
}
