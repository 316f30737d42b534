import { describe, expect, test } from 'vitest';
import { problemsOf } from './problems.js';
import { formatPath, loadSource, maxInputBytes, parseSource } from '../../../src/source.js';

const text = `plays:
  - name: one
    tasks:
      - sysctl:
          values: { net.core.somaxconn: 1024 }
      - name: two
`;

describe('source positions', () => {
  const source = parseSource(text, 'site.yml');

  test('the value is plain JS', () => {
    expect(source.value).toEqual({
      plays: [{ name: 'one', tasks: [{ sysctl: { values: { 'net.core.somaxconn': 1024 } } }, { name: 'two' }] }],
    });
  });

  test('a key is located at the key', () => {
    expect(source.pos(['plays', 0, 'tasks'])).toEqual({ file: 'site.yml', line: 3, column: 5 });
    expect(source.pos(['plays', 0, 'tasks', 0, 'sysctl', 'values', 'net.core.somaxconn'])).toMatchObject({ line: 5, column: 21 });
  });

  test('a list item is located at its first key', () => {
    expect(source.pos(['plays', 0, 'tasks', 1])).toMatchObject({ line: 6, column: 9 });
  });

  test('a missing key is located at its parent', () => {
    expect(source.pos(['plays', 0, 'tasks', 1, 'sysctl'])).toMatchObject({ line: 6, column: 9 });
    expect(source.pos(['plays', 0, 'handlers'])).toMatchObject({ line: 2, column: 5 });
    expect(source.pos(['plays', 7])).toMatchObject({ line: 1, column: 1 });
  });

  test('aliases are followed', () => {
    const s = parseSource('base: &b\n  port: 22\nhost: *b\n', 'a.yml');
    expect(s.value).toEqual({ base: { port: 22 }, host: { port: 22 } });
    expect(s.pos(['host', 'port'])).toMatchObject({ line: 2, column: 3 });
  });

  test('YAML 1.2: yes is a string, merge keys work', () => {
    const s = parseSource('a: yes\nbase: &b { x: 1 }\nc:\n  <<: *b\n  y: 2\n', 'a.yml');
    expect(s.value).toEqual({ a: 'yes', base: { x: 1 }, c: { x: 1, y: 2 } });
  });
});

describe('YAML errors name file:line:column', () => {
  test('duplicate key', () => {
    expect(problemsOf(() => parseSource('a: 1\nb:\n  c: 2\n  c: 3\n', 'dup.yml'))).toEqual([
      'dup.yml:4:3: duplicate key "c" (first given at line 3, column 3)',
    ]);
  });

  test('a duplicate key is named whole, not by its first character (issue 15)', () => {
    const play =
      '- name: tune\n  hosts: lab\n  tasks:\n    - sysctl:\n        "net.core.somaxconn": 1024\n        net.core.somaxconn: 4096\n  name: again\n';
    expect(problemsOf(() => parseSource(play, 'site.yml'))).toEqual([
      'site.yml:6:9: duplicate key "net.core.somaxconn" (first given at line 5, column 9)',
      'site.yml:7:3: duplicate key "name" (first given at line 1, column 3)',
    ]);
  });

  test('bad indentation', () => {
    const [message] = problemsOf(() => parseSource('a:\n  b: 1\n c: 2\n', 'indent.yml'));
    expect(message).toMatch(/^indent\.yml:3:\d+: /);
  });

  test('unclosed flow sequence', () => {
    const [message] = problemsOf(() => parseSource('a: [1, 2\nb: 3\n', 'flow.yml'));
    expect(message).toMatch(/^flow\.yml:\d+:\d+: .*(flow|\])/i);
  });

  test('a missing file', () => {
    expect(problemsOf(() => loadSource('/nonexistent/inventory.yml'))).toEqual([
      '/nonexistent/inventory.yml:1:1: cannot read file: no such file',
    ]);
  });
});

test('formatPath', () => {
  expect(formatPath([0, 'tasks', 2, 'sysctl', 'values'], 'plays')).toBe('plays[0].tasks[2].sysctl.values');
  expect(formatPath(['values', 'net.core.somaxconn'])).toBe('values["net.core.somaxconn"]');
  expect(formatPath([])).toBe('');
});

describe('inputs that would hang or exhaust the controller are refused with a position', () => {
  test('an alias inside its own anchor (a value that contains itself)', () => {
    expect(problemsOf(() => parseSource('a: &a [1, *a]\n', 'loop.yml'))).toEqual([
      'loop.yml:1:11: alias *a is inside its own anchor &a: a value cannot contain itself',
    ]);
    expect(problemsOf(() => parseSource('a: &a\n  b:\n    c: *a\n', 'loop.yml'))).toEqual([
      'loop.yml:3:8: alias *a is inside its own anchor &a: a value cannot contain itself',
    ]);
  });

  test('an alias to no anchor', () => {
    expect(problemsOf(() => parseSource('a: *nope\n', 'alias.yml'))).toEqual(['alias.yml:1:4: alias *nope names no anchor set before it']);
  });

  test('an alias bomb (the yaml library counts expanded aliases)', () => {
    let text = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++)
      text += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]\n`;
    expect(problemsOf(() => parseSource(text, 'bomb.yml'))[0]).toMatch(/^bomb\.yml:1:1: aliases expand to too many nodes/);
  });

  test('nesting deeper than the parser can follow', () => {
    const text = `a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`;
    expect(problemsOf(() => parseSource(text, 'deep.yml'))[0]).toMatch(/^deep\.yml:1:\d+: nested too deeply to read$/);
  });

  test('a file above the size cap, before it is parsed; the cap is configurable', () => {
    const text = `# ${'x'.repeat(4 * 1024 * 1024)}\n`;
    expect(problemsOf(() => parseSource(text, 'big.yml'))).toEqual([
      'big.yml:1:1: the file is 4.0 MiB (4194307 bytes): hvtune reads inputs up to 4.0 MiB (4194304 bytes); set HVTUNE_MAX_INPUT_BYTES to raise the limit',
    ]);
    expect(maxInputBytes({ HVTUNE_MAX_INPUT_BYTES: '8M' })).toBe(8 * 1024 * 1024);
    expect(maxInputBytes({ HVTUNE_MAX_INPUT_BYTES: '1000' })).toBe(1000);
    expect(problemsOf(() => maxInputBytes({ HVTUNE_MAX_INPUT_BYTES: 'lots' }))[0]).toMatch(/expected a size such as 8M/);
  });
});
