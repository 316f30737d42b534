import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseLive } from '../../../../modules/modprobe.js';
import { loadFixtures } from '../grub_cmdline/fixtures.js';

interface ParseFixture {
  command: string;
  output: string;
  observed: unknown;
}

describe.each(loadFixtures<ParseFixture>(fileURLToPath(new URL('./parse', import.meta.url))))('modprobe parse %s', (_f, fixture) => {
  it(fixture.command, () => {
    expect(parseLive(fixture.output)).toMatchObject(fixture.observed as object);
  });
});

describe('modprobe parse, shapes tier 1 cannot show', () => {
  it('a loaded loadable module has initstate and a use count; a write-only parameter has no value', () => {
    expect(parseLive('loadable\npresent\ninitstate=live\nrefcnt=0\nparam avic=Y\nparam secret\n')).toEqual({
      loadable: true,
      live: { state: 'loaded', refcnt: 0, params: { avic: 'Y', secret: null } },
    });
  });
});
