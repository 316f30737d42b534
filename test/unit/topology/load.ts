import { readFileSync } from 'node:fs';
import type { Facts } from '../../../src/facts.js';

/** The facts of a recorded machine (test/fixtures/facts/NAME.json, one host). */
export function recorded(name: string): Facts {
  const data = JSON.parse(readFileSync(new URL(`../../fixtures/facts/${name}.json`, import.meta.url), 'utf8'));
  return Object.values(data.hosts as Record<string, Facts>)[0];
}
