// One runner for the plan fixtures of the host-tuning modules (STYLE.md "Plan tests are fixtures"):
// each YAML file is { description, args, observed, facts?, expect: { changes, pending?, warnings?, error? } }.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Change, Module, PlanContext, PlanResult } from '../../../../src/module.js';
import { parseKernelVersion } from '../../../../src/facts.js';

interface PlanFixture {
  description: string;
  args: unknown;
  observed: unknown;
  kernel?: string;
  facts?: Record<string, unknown>;
  expect: {
    changes?: Partial<Change>[];
    pending?: unknown[];
    /** substrings that must each appear in one warning (plan or change); [] = no warning at all */
    warnings?: string[];
    error?: string;
  };
}

export function planContext(fixture: Pick<PlanFixture, 'kernel' | 'facts'>): PlanContext {
  const release = fixture.kernel ?? '6.1.0-18-amd64';
  return {
    host: 'hv1',
    facts: { hostname: 'hv1', kernel: { release, version: parseKernelVersion(release) }, ...fixture.facts },
  };
}

export function loadFixtures<T>(dir: string): [string, T][] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => [f, parseYaml(readFileSync(join(dir, f), 'utf8')) as T]);
}

export function describePlanFixtures(module: Module, dir: string): void {
  describe.each(loadFixtures<PlanFixture>(dir))(`${module.name} plan %s`, (_file, fixture) => {
    it(fixture.description, () => {
      const run = (): PlanResult => {
        const problems = module.validate?.(fixture.args) ?? [];
        if (problems.length) throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
        return module.plan(fixture.args, fixture.observed, planContext(fixture));
      };
      if (fixture.expect.error !== undefined) {
        expect(run).toThrow(fixture.expect.error);
        return;
      }
      const result = run();
      const want = fixture.expect.changes ?? [];
      expect(result.changes.map((c) => c.target)).toEqual(want.map((c) => c.target));
      result.changes.forEach((change, i) => expect(change).toMatchObject(want[i]));
      expect(result.pending ?? []).toMatchObject(fixture.expect.pending ?? []);
      expect((result.pending ?? []).length).toBe((fixture.expect.pending ?? []).length);
      if (fixture.expect.warnings) {
        const all = [...(result.warnings ?? []), ...result.changes.flatMap((c) => c.warnings ?? [])];
        if (fixture.expect.warnings.length === 0) expect(all).toEqual([]);
        for (const w of fixture.expect.warnings)
          expect(
            all.some((x) => x.includes(w)),
            `warning "${w}" in ${JSON.stringify(all)}`,
          ).toBe(true);
      }
      // JSON-serialisable data: a saved plan must round-trip.
      expect(JSON.parse(JSON.stringify(result.changes))).toEqual(result.changes);
    });
  });
}
