import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import sysctl from '../../../../modules/sysctl.js';
import { parseKernelVersion } from '../../../../src/facts.js';

interface Fixture {
  description: string;
  kernel?: string;
  args: Parameters<typeof sysctl.plan>[0];
  observed: Parameters<typeof sysctl.plan>[1];
  expect: {
    changes?: { target: string; effect: string; before?: string | null; after?: string | null; diffAfter?: string }[];
    warnings?: string[];
    error?: string;
  };
}

const dir = join(import.meta.dirname, 'plan');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => [f, parseYaml(readFileSync(join(dir, f), 'utf8')) as Fixture] as const);

describe.each(fixtures)('sysctl plan: %s', (_file, fx) => {
  const release = fx.kernel ?? '6.1.0-18-amd64';
  const ctx = { host: 'hv1', facts: { hostname: 'hv1', kernel: { release, version: parseKernelVersion(release) } } };
  const observed = {
    file: { path: fx.args.file ?? '/etc/sysctl.d/90-hvtune.conf', content: null },
    bootFiles: {},
    availableCongestion: null,
    ...fx.observed,
  };

  it(fx.description, () => {
    if (fx.expect.error) {
      expect(() => sysctl.plan(fx.args, observed, ctx)).toThrow(fx.expect.error);
      return;
    }
    const result = sysctl.plan(fx.args, observed, ctx);
    const got = result.changes.map((c) => ({
      target: c.target,
      effect: c.effect,
      ...(c.before !== undefined ? { before: c.before } : {}),
      ...(c.after !== undefined ? { after: c.after } : {}),
      ...(c.diff ? { diffAfter: c.diff.after ?? undefined } : {}),
    }));
    expect(got).toEqual(fx.expect.changes ?? []);
    for (const w of fx.expect.warnings ?? []) expect(result.warnings?.join('\n')).toContain(w);
    if (!fx.expect.warnings) expect(result.warnings ?? []).toEqual([]);
  });
});
