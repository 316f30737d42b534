// The JSON facts of recorded layouts are exactly what parseFacts makes of the gatherer's output on
// those machines. UPDATE_FACT_FIXTURES=1 rewrites them after a deliberate parser change.

import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFacts } from '../../../src/facts.js';
import { LAYOUTS } from './layouts.js';
import { renderGathererOutput } from './synthetic.js';

const dir = new URL('../../fixtures/facts/', import.meta.url);

describe.each(Object.entries(LAYOUTS))('layout %s', (name, layout) => {
  it('parses to the committed JSON fixture', () => {
    const facts = parseFacts(renderGathererOutput(layout));
    const file = new URL(`${name}.json`, dir);
    if (process.env.UPDATE_FACT_FIXTURES) writeFileSync(file, JSON.stringify({ hosts: { [facts.hostname]: facts } }, null, 2) + '\n');
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { hosts: Record<string, unknown> };
    expect(saved.hosts[facts.hostname]).toEqual(facts);
  });

  it('has the socket/core/thread counts of the layout', () => {
    const cpu = parseFacts(renderGathererOutput(layout)).cpu!;
    expect([cpu.sockets, cpu.coresPerSocket, cpu.threadsPerCore]).toEqual([layout.sockets, layout.coresPerSocket, layout.threadsPerCore]);
    expect(cpu.hyperThreading).toBe(layout.threadsPerCore > 1);
    expect(cpu.threads).toHaveLength(layout.sockets * layout.coresPerSocket * layout.threadsPerCore);
  });
});
