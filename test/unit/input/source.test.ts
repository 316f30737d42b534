import { describe, expect, test } from 'vitest';
import { problemsOf } from './problems.js';
import { formatPath, loadSource, parseSource } from '../../../src/source.js';

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
