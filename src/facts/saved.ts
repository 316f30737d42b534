// The saved-facts file (`hvtune facts --save FILE`, read by `--facts FILE`): offline planning for
// a machine one cannot reach, and repeatable topology tests.

import { readFile } from 'node:fs/promises';
import { HvtuneError } from '../errors.js';
import { parseKernelVersion, type Facts } from '../facts.js';

/** The saved-facts file: `hosts` is what `--facts FILE` reads. */
export interface SavedFacts {
  format: 'hvtune-facts';
  version: 1;
  gathered: string;
  hosts: Record<string, Facts>;
}

/**
 * Facts saved by `hvtune facts --save` (or `--json` output, or a bare host → facts map) for
 * `--facts FILE`. Checks the shape a plan relies on and says which host and key are wrong.
 */
export async function loadFactsFile(path: string): Promise<Record<string, Facts>> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new HvtuneError(`${path}: cannot read saved facts: ${(err as Error).message}`);
  }
  return validateSavedFacts(data, path);
}

export function validateSavedFacts(data: unknown, path: string): Record<string, Facts> {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(data)) throw new HvtuneError(`${path}: expected a JSON object of saved facts ({"hosts": {NAME: facts}})`);
  const hosts = isObject(data.hosts) ? data.hosts : data;
  const out: Record<string, Facts> = {};
  for (const [name, f] of Object.entries(hosts)) {
    if (name === 'format' || name === 'version' || name === 'gathered' || name === 'failures') continue;
    const where = `${path}: host ${JSON.stringify(name)}`;
    if (!isObject(f)) throw new HvtuneError(`${where}: expected an object of facts`);
    if (typeof f.hostname !== 'string') throw new HvtuneError(`${where}: "hostname" must be a string`);
    const kernel = f.kernel;
    if (!isObject(kernel) || typeof kernel.release !== 'string') throw new HvtuneError(`${where}: "kernel.release" must be a string`);
    for (const key of ['cpu', 'numa', 'memory', 'boot', 'virt'] as const) {
      if (f[key] !== undefined && !isObject(f[key])) throw new HvtuneError(`${where}: "${key}" must be an object`);
    }
    if (f.nics !== undefined && !Array.isArray(f.nics)) throw new HvtuneError(`${where}: "nics" must be a list`);
    if (isObject(f.numa) && !Array.isArray(f.numa.nodes)) throw new HvtuneError(`${where}: "numa.nodes" must be a list`);
    // A hand-written file may give only the release: derive the version as gathering would.
    const version =
      Array.isArray(kernel.version) && kernel.version.length === 3
        ? (kernel.version as [number, number, number])
        : parseKernelVersion(kernel.release);
    out[name] = { ...(f as Facts), kernel: { ...kernel, release: kernel.release, version } };
  }
  if (!Object.keys(out).length) throw new HvtuneError(`${path}: no host facts in the file`);
  return out;
}
