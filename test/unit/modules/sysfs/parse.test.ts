import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseBlockOutput } from '../../../../modules/sysfs.js';
import { parseChoices } from '../../../../modules/lib/choices.js';
import { loadFixtures } from '../grub_cmdline/fixtures.js';

interface ParseFixture {
  command: string;
  output: string;
  observed: unknown;
}

describe.each(loadFixtures<ParseFixture>(fileURLToPath(new URL('./parse', import.meta.url))))('sysfs parse %s', (_f, fixture) => {
  it(fixture.command, () => {
    const parsed = fixture.command.startsWith('cat ') ? parseChoices(fixture.output) : parseBlockOutput(fixture.output);
    expect(parsed).toEqual(fixture.observed);
  });
});
