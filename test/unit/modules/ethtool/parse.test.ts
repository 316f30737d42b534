import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseLive } from '../../../../modules/ethtool.js';
import {
  errorLine,
  maskToCpuList,
  parseCoalesce,
  parseDriverInfo,
  parseFeatures,
  parseFlowHash,
  parseLimits,
} from '../../../../modules/lib/ethtool-parse.js';
import { loadFixtures } from '../grub_cmdline/fixtures.js';

interface ParseFixture {
  command: string;
  /** exit status when the command failed: the observed value is then its error line */
  code?: number;
  args?: unknown;
  output: string;
  observed: unknown;
}

function parseFor(f: ParseFixture): unknown {
  if (f.code) return { error: errorLine(f.output) };
  if (f.command === 'read script') return parseLive(f.args as never, f.output);
  if (f.command.includes('xps_cpus')) return f.output.split('\n').filter(Boolean).map(maskToCpuList);
  const flag = /^ethtool -(\w)/.exec(f.command)?.[1];
  if (flag === 'i') return parseDriverInfo(f.output);
  if (flag === 'g' || flag === 'l') return parseLimits(f.output);
  if (flag === 'k') return parseFeatures(f.output);
  if (flag === 'c') return parseCoalesce(f.output);
  if (flag === 'n') return parseFlowHash(f.output);
  throw new Error(`no parser for ${f.command}`);
}

describe.each(loadFixtures<ParseFixture>(fileURLToPath(new URL('./parse', import.meta.url))))('ethtool parse %s', (_file, fixture) => {
  it(fixture.command, () => {
    if (fixture.command === 'read script') expect(parseFor(fixture)).toMatchObject(fixture.observed as object);
    else expect(parseFor(fixture)).toEqual(fixture.observed);
  });
});
