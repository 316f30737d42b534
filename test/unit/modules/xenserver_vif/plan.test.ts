// Plan fixtures: one YAML file per behaviour, { description, args, observed, expect }.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { xenserver_vif } from '../../../../modules/xenserver_vif.js';

const dir = join(import.meta.dirname, 'plan');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => [file, parseYaml(readFileSync(join(dir, file), 'utf8'))] as const);
const ctx = { host: 'xs56', facts: { hostname: 'xs56', kernel: { release: '2.6.32', version: [2, 6, 32] as [number, number, number] } } };

describe.each(fixtures)('xenserver_vif plan: %s', (_file, fx) => {
  it(fx.description.trim().split('\n')[0], () => {
    if (fx.expect.error) {
      expect(() => xenserver_vif.plan(fx.args, fx.observed, ctx)).toThrow(fx.expect.error);
      return;
    }
    const result = xenserver_vif.plan(fx.args, fx.observed, ctx);
    const pick = (c: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.filter((k) => k in c).map((k) => [k, c[k]]));
    expect(result.changes.map((c, i) => pick(c as never, Object.keys(fx.expect.changes[i] ?? { target: 1, effect: 1 })))).toEqual(
      fx.expect.changes,
    );
    if (fx.expect.pending) expect((result.pending ?? []).map((p) => ({ effect: p.effect, target: p.target }))).toEqual(fx.expect.pending);
    if (fx.expect.warning) expect((result.warnings ?? []).join('\n')).toContain(fx.expect.warning);
  });
});
