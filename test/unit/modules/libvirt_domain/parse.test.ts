// Parser fixtures: { command, output, observed } with real output of the read script captured on
// a lab host. XML bodies may be given as files of xml/.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseReadOutput } from '../../../../modules/libvirt_domain.js';

const here = new URL('.', import.meta.url).pathname;
const xml = (file: string) => readFileSync(join(here, 'xml', file), 'utf8');
const files = readdirSync(join(here, 'parse'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe.each(files)('%s', (file) => {
  const f = parseYaml(readFileSync(join(here, 'parse', file), 'utf8'));
  test(f.description, () => {
    const want = {
      ...f.observed,
      domains: f.observed.domains.map((d: Record<string, string | null>) => ({
        name: d.name,
        state: d.state,
        persisted: d.persisted_file ? xml(d.persisted_file) : d.persisted,
        live: d.live_file ? xml(d.live_file) : (d.live ?? null),
      })),
    };
    expect(parseReadOutput(f.output)).toEqual(want);
  });
});
