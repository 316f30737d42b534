// command on a tier-1 lab host: argv run without a shell, `creates` making it idempotent, and
// the handler use it exists for: run once, only when a task changed something.

import { describe, expect, it } from 'vitest';
import { useLab } from '../lab.js';
import { play } from '../play.js';

const lab = useLab({ hosts: 1 });

const withCreates = `
- name: one-off
  hosts: lab
  tasks:
    - name: mark
      command: { argv: [touch, /var/lib/hvtune-ran], creates: /var/lib/hvtune-ran }
`;

const withHandler = (content: string) => `
- name: rule and reload
  hosts: lab
  tasks:
    - name: a rule file
      file: { path: /etc/hvtune/rule.conf, content: "${content}\\n" }
      notify: [reload rules]
  handlers:
    - name: reload rules
      command: { argv: [sh, -c, 'echo reloaded >> "$1"', sh, /root/reloads] }
`;

describe('command', () => {
  it('check says it would run and runs nothing; apply runs it; creates makes the next run a no-op', async () => {
    const h = lab().hosts[0];
    const check = await play(lab(), withCreates, { check: true });
    expect(check.code).toBe(2);
    expect(check.report.changes.map((c) => [c.summary, c.effect])).toEqual([['run touch /var/lib/hvtune-ran', 'live']]);
    expect((await lab().exec(h, ['test', '-e', '/var/lib/hvtune-ran'])).code).not.toBe(0);
    expect((await play(lab(), withCreates)).code).toBe(0);
    expect((await lab().exec(h, ['test', '-e', '/var/lib/hvtune-ran'])).code).toBe(0);
    expect((await play(lab(), withCreates)).report.changes).toEqual([]);
    await lab().exec(h, ['rm', '/var/lib/hvtune-ran']);
    expect((await play(lab(), withCreates, { check: true })).report.changes).toHaveLength(1);
  });

  it('as a handler: runs once when the task changed, not at all on a run without changes', async () => {
    const h = lab().hosts[0];
    const first = await play(lab(), withHandler('a=1'));
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(await lab().readFile(h, '/root/reloads')).toBe('reloaded\n');
    const second = await play(lab(), withHandler('a=1'));
    expect(second.report.changes).toEqual([]);
    expect(await lab().readFile(h, '/root/reloads')).toBe('reloaded\n');
    await play(lab(), withHandler('a=2'));
    expect(await lab().readFile(h, '/root/reloads')).toBe('reloaded\nreloaded\n');
  });

  it('a failing command fails the task with its exit code and stderr', async () => {
    const failing = withCreates.replace(
      '{ argv: [touch, /var/lib/hvtune-ran], creates: /var/lib/hvtune-ran }',
      '{ argv: [ls, /nonexistent-hvtune] }',
    );
    const r = await play(lab(), failing);
    expect(r.code).toBe(1);
    expect(r.report.failures[0].message).toMatch(/exit code 2: ls \/nonexistent-hvtune[\s\S]*No such file/);
  });
});
