import { describe, expect, it } from 'vitest';
import { isRelativeMode, modeProblem, normaliseMode } from '../../../../modules/lib/mode.js';

describe('normaliseMode', () => {
  it.each([
    ['0644', '0644'],
    ['644', '0644'],
    ['1770', '1770'],
    ['0', '0000'],
    ['750', '0750'],
    [' 0640 ', '0640'],
  ])('octal string %j → %s', (input, want) => expect(normaliseMode(input)).toBe(want));

  it.each([
    [420, '0644'],
    [493, '0755'],
    [0, '0000'],
    [0o777, '0777'],
  ])('integer %d is the mode value → %s', (input, want) => expect(normaliseMode(input)).toBe(want));

  it.each([
    ['u=rw,go=r', 0, '0644'],
    ['u=rwx,g=rx,o=', 0, '0750'],
    ['a=r', 0o777, '0444'],
    ['g+w', 0o644, '0664'],
    ['o-r', 0o644, '0640'],
    ['u+s', 0o755, '4755'],
    ['+t', 0o777, '1777'],
    ['a+X', 0o644, '0644'],
    ['a+X', 0o744, '0755'],
  ])('symbolic %s on %o → %s', (input, current, want) => expect(normaliseMode(input, current)).toBe(want));

  it('X sets execute on directories', () => expect(normaliseMode('a+X', 0o644, true)).toBe('0755'));
  it("= clears a file's setuid bit, as chmod does", () => expect(normaliseMode('u=rwx', 0o4755)).toBe('0755'));

  it('refuses integers with special bits: YAML read 0644 as decimal 644', () => {
    expect(() => normaliseMode(644)).toThrow('mode: "0644"');
    expect(modeProblem(755)).toContain('octal 1363');
  });
  it.each(['0999', 'rw-r--r--', 'u=rwz', '12345', ''])('refuses %j with a message naming both forms', (bad) => {
    expect(modeProblem(bad)).toMatch(/neither octal .* nor symbolic/);
  });
  it.each([-1, 1.5, 0o10000])('refuses the integer %d', (bad) => expect(modeProblem(bad)).toContain('not a file mode'));
  it('knows relative modes', () => {
    expect(isRelativeMode('g+w')).toBe(true);
    expect(isRelativeMode('u=rw')).toBe(false);
    expect(isRelativeMode(420)).toBe(false);
  });
});
