// One runner for the plan and parse fixtures of the file, lineinfile, mount, service and command
// modules: each fixture is a small YAML file, one behaviour each (STYLE.md "Tests").

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Module, ReadResult } from '../../../../src/module.js';
import { parseKernelVersion } from '../../../../src/facts.js';

interface ExpectedChange {
  target: string;
  effect: string;
  before?: string | null;
  after?: string | null;
  /** The file's text after the change (null = removed). */
  diffAfter?: string | null;
  summary?: string;
}

interface PlanFixture {
  description: string;
  args: Record<string, unknown>;
  observed?: Record<string, unknown>;
  expect: {
    changes?: ExpectedChange[];
    pending?: { effect: string; target: string }[];
    warnings?: string[];
    /** A substring of the TaskError plan throws. */
    error?: string;
    /** A substring of a message the module's validate returns (the task is refused at load). */
    invalid?: string;
  };
}

interface ParseFixture {
  description: string;
  args: Record<string, unknown>;
  /** What produced the output, for people. */
  command: string;
  /** Raw output (stdout or file content; null = file missing), one per read request. */
  output: (string | null)[];
  observed: Record<string, unknown>;
}

const ctx = {
  host: 'hv1',
  facts: { hostname: 'hv1', kernel: { release: '6.1.0-18-amd64', version: parseKernelVersion('6.1.0-18-amd64') } },
};

function load<T>(dir: string): (readonly [string, T])[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => [f, parseYaml(readFileSync(join(dir, f), 'utf8')) as T] as const);
}

/** describe.each over `<dir>/plan/*.yaml`; `defaults` fills observed fields a fixture leaves out. */
export function describePlanFixtures(mod: Module, dir: string, defaults: Record<string, unknown> = {}): void {
  describe.each(load<PlanFixture>(join(dir, 'plan')))(`${mod.name} plan: %s`, (_file, fx) => {
    it(fx.description, () => {
      const problems = mod.validate?.(fx.args) ?? [];
      if (fx.expect.invalid) {
        expect(problems.map((p) => p.message).join('\n')).toContain(fx.expect.invalid);
        return;
      }
      expect(problems).toEqual([]);
      const observed = { ...defaults, ...fx.observed };
      if (fx.expect.error) {
        expect(() => mod.plan(fx.args, observed, ctx)).toThrow(fx.expect.error);
        return;
      }
      const result = mod.plan(fx.args, observed, ctx);
      const got = result.changes.map((c, i) => {
        const want = fx.expect.changes?.[i] ?? ({} as ExpectedChange);
        return {
          target: c.target,
          effect: c.effect,
          ...('before' in want ? { before: c.before } : {}),
          ...('after' in want ? { after: c.after } : {}),
          ...('diffAfter' in want ? { diffAfter: c.diff?.after } : {}),
          ...('summary' in want ? { summary: c.summary } : {}),
        };
      });
      expect(got).toEqual(fx.expect.changes ?? []);
      expect((result.pending ?? []).map((p) => ({ effect: p.effect, target: p.target }))).toEqual(fx.expect.pending ?? []);
      for (const w of fx.expect.warnings ?? []) expect(result.warnings?.join('\n')).toContain(w);
      if (!fx.expect.warnings) expect(result.warnings ?? []).toEqual([]);
      // planning is pure: the same input plans the same changes again
      expect(mod.plan(fx.args, observed, ctx)).toEqual(result);
    });
  });
}

/** describe.each over `<dir>/parse/*.yaml`: real output captured on lab hosts → observed. */
export function describeParseFixtures(mod: Module, dir: string): void {
  describe.each(load<ParseFixture>(join(dir, 'parse')))(`${mod.name} parse: %s`, (_file, fx) => {
    it(fx.description, () => {
      const requests = mod.read(fx.args, ctx);
      expect(requests.length).toBe(fx.output.length);
      const results: ReadResult[] = requests.map((r, i) => {
        const out = fx.output[i];
        if (r.kind === 'file') return { kind: 'file', path: r.path, content: out };
        if (r.kind === 'glob') return { kind: 'glob', pattern: r.pattern, files: {} };
        if (r.kind === 'stat') return { kind: 'stat', path: r.path, state: out ?? '' };
        return { kind: r.kind, stdout: out ?? '', stderr: '', code: 0 };
      });
      expect(mod.parse(fx.args, results, ctx)).toEqual(fx.observed);
    });
  });
}
