import { describe, expect, test } from 'vitest';
import { formatProblem } from '../../../src/errors.js';
import { checkSchema, closestMatches } from '../../../src/schema.js';
import { parseSource } from '../../../src/source.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['values'],
  properties: {
    values: {
      type: 'object',
      propertyNames: { pattern: '^[a-z0-9_.]+$', 'x-message': 'must be a sysctl name like net.core.somaxconn' },
      additionalProperties: {
        anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^[0-9]+$' }, { type: 'array', items: { type: 'integer' } }],
      },
    },
    tcp_rmem: { type: 'array', items: { type: 'integer' }, minItems: 3, maxItems: 3, 'x-message': 'must be 3 integers' },
    file: { type: 'string', minLength: 1 },
    mode: { enum: ['live', 'persistent'] },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    enabled: { type: 'boolean' },
    tags: { type: 'array', uniqueItems: true },
  },
};

function check(yaml: string): string[] {
  const source = parseSource(yaml, 'args.yml');
  return checkSchema(schema, source.value, { source }).map(formatProblem);
}

describe('schema problems in plain words, at file:line:column', () => {
  test('valid input has no problems', () => {
    expect(check('values: { net.core.somaxconn: 1024, a.b: "1", c.d: [1, 2] }\nmode: live\n')).toEqual([]);
  });

  test('unknown key suggests the closest known key and lists the others', () => {
    expect(check('values: {}\nfiel: /etc/x\n')).toEqual([
      'args.yml:2:1: unknown key "fiel", did you mean "file"? (expected one of: values, tcp_rmem, file, mode, port, enabled, tags)',
    ]);
  });

  test('wrong type says what was expected and what was found', () => {
    expect(check('values: {}\nport: abc\n')).toEqual(['args.yml:2:1 port: must be an integer, got "abc"']);
    expect(check('values: []\n')).toEqual(['args.yml:1:1 values: must be a mapping, got a list']);
  });

  test('yes/no get a YAML 1.2 hint', () => {
    expect(check('values: {}\nenabled: yes\n')).toEqual([
      'args.yml:2:1 enabled: must be true or false, got "yes" (YAML 1.2: write true or false)',
    ]);
  });

  test('enum lists the allowed values and a close one', () => {
    expect(check('values: {}\nmode: persistant\n')).toEqual([
      'args.yml:2:1 mode: must be one of: live, persistent, got "persistant" (did you mean "persistent"?)',
    ]);
  });

  test('x-message replaces the generated message', () => {
    expect(check('values: {}\ntcp_rmem: [4096, 87380]\n')).toEqual(['args.yml:2:1 tcp_rmem: must be 3 integers']);
  });

  test('a data key is named in the message, not the path', () => {
    expect(check('values:\n  net.ipv4.tcp_rmem: {a: 1}\n')).toEqual([
      'args.yml:2:3 values: "net.ipv4.tcp_rmem" must be an integer, a string or a list, got a mapping',
    ]);
  });

  test('anyOf collapses to the branch the value came closest to', () => {
    expect(check('values:\n  net.core.somaxconn: lots\n')).toEqual([
      'args.yml:2:3 values: "net.core.somaxconn" must match ^[0-9]+$, got "lots"',
    ]);
    expect(check('values:\n  net.ipv4.tcp_rmem: [4096, x, 6]\n')).toEqual([
      'args.yml:2:29 values["net.ipv4.tcp_rmem"][1]: must be an integer, got "x"',
    ]);
  });

  test('invalid key names use the propertyNames x-message', () => {
    expect(check('values:\n  "Net Core": 1\n')).toEqual([
      'args.yml:2:3 values: invalid key "Net Core": must be a sysctl name like net.core.somaxconn',
    ]);
  });

  test('missing required key points at the parent', () => {
    expect(check('mode: live\n')).toEqual(['args.yml:1:1: missing required key "values"']);
  });

  test('ranges, lengths and duplicates', () => {
    expect(check('values: {}\nport: 0\nfile: ""\ntags: [a, b, a]\n')).toEqual([
      'args.yml:2:1 port: must be >= 1, got 0',
      'args.yml:3:1 file: must not be empty',
      'args.yml:4:1 tags: must not contain duplicates (items 0 and 2 are equal)',
    ]);
  });

  test('every problem at once, sorted by position', () => {
    const problems = check('port: 70000\nmode: x\nvalues:\n  a.b: {}\nextra: 1\n');
    expect(problems.map((p) => /^[^ ]+?:\d+:\d+/.exec(p)![0])).toEqual(['args.yml:1:1', 'args.yml:2:1', 'args.yml:4:3', 'args.yml:5:1']);
  });
});

test('closestMatches', () => {
  expect(closestMatches('adress', ['address', 'port', 'user'])).toEqual(['address']);
  expect(closestMatches('sysclt', ['sysctl', 'sysfs', 'service'])).toEqual(['sysctl']);
  expect(closestMatches('zzz', ['address', 'port'])).toEqual([]);
});
