// The facts schema that templates are checked against must describe what hvtune really gathers:
// every recorded machine (the fixtures) and the facts parsed from a real lab host's script output.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseFacts } from '../../../src/facts.js';
import { checkSchema } from '../../../src/schema.js';
import { factsSchema } from '../../../src/schemas/facts.js';

const dir = new URL('../../fixtures/facts/', import.meta.url).pathname;

describe('facts schema', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    test(`${file} conforms`, () => {
      const saved = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { hosts: Record<string, unknown> };
      for (const facts of Object.values(saved.hosts))
        expect(checkSchema(factsSchema, facts), 'add new facts to src/schemas/facts.ts').toEqual([]);
    });
  }

  for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt'))) {
    test(`facts parsed from ${file} (captured on a lab machine) conform`, () => {
      const facts = parseFacts(readFileSync(join(dir, file), 'utf8'));
      expect(checkSchema(factsSchema, facts), 'add new facts to src/schemas/facts.ts').toEqual([]);
    });
  }

  test('a misspelt fact is rejected, so the schema can catch typos', () => {
    expect(checkSchema(factsSchema, { hostname: 'h', kernel: { release: '6.1', version: [6, 1, 0] }, cpus: {} })).not.toEqual([]);
  });
});
