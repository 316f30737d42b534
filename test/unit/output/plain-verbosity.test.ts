// -v levels of the plain output: what each level adds.

import { describe, expect, it } from 'vitest';
import type { ChangeRecord, RunEvent } from '../../../src/events.js';
import { noColors } from '../../../src/output/format.js';
import { plainRenderer } from '../../../src/output/plain.js';

const change: ChangeRecord = {
  host: 'hv1',
  task: 'conf',
  module: 'file',
  summary: 'write /etc/a.conf',
  target: '/etc/a.conf',
  effect: 'persistent',
  before: null,
  after: null,
  diff: '--- a/etc/a.conf\n+++ b/etc/a.conf\n@@ -1 +1 @@\n-x=1\n+x=2\n',
  warnings: [],
};

function events(secret: boolean): RunEvent[] {
  const planned = {
    play: 0,
    task: 'conf',
    module: 'file',
    handler: false,
    args: {},
    changes: [],
    pending: [],
    ...(secret ? { secret } : {}),
  };
  return [
    { type: 'task-start', host: 'hv1', id: 1, task: 'conf', module: 'file' },
    {
      type: 'task-planned',
      host: 'hv1',
      id: 1,
      planned,
      observed: { content: 'x=1\n' },
      facts: { hostname: 'hv1', kernel: { release: 'x', version: [6, 1, 0] } },
    },
    {
      type: 'task-done',
      host: 'hv1',
      id: 1,
      task: 'conf',
      module: 'file',
      status: 'changed',
      changes: [change],
      pending: [],
      warnings: [],
      handler: false,
    },
  ];
}

function render(verbose: number, secret = false): string {
  const out: string[] = [];
  const r = plainRenderer((s) => out.push(s), { diff: false, verbose, style: noColors });
  for (const e of events(secret)) r.handle(e);
  return out.join('\n');
}

describe('plain output by verbosity', () => {
  it('no -v: the change, no diff without --diff, no task start', () => {
    expect(render(0)).toBe('hv1 | conf | changed\n    write /etc/a.conf');
  });

  it('-v: each task as it starts, and each change with its target, effect and diff', () => {
    expect(render(1)).toBe(
      'hv1 | conf…\nhv1 | conf | changed\n    write /etc/a.conf\n      target /etc/a.conf, effect persistent\n    --- a/etc/a.conf\n    +++ b/etc/a.conf\n    @@ -1 +1 @@\n    -x=1\n    +x=2',
    );
  });

  it("-vv: what the read observed, and the task's time", () => {
    const text = render(2);
    expect(text).toContain('hv1 | conf | read: {"content":"x=1\\n"}');
    expect(text).toMatch(/hv1 \| conf \| changed \(\d+\.\d\d s\)/);
  });

  it("-vv never prints a secret task's observation", () => {
    expect(render(2, true)).not.toContain('read:');
  });
});
