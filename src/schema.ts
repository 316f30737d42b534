// JSON Schema validation (ajv) turned into problems a person can act on: every problem at once,
// each at file:line:column of the offending key, in plain words.
//
// Our annotation keywords, honoured in any schema:
// - `x-message`: replaces the generated message for a value ("must be 3 integers").
// - `x-key-hints`: { wrongKey: rightKey } for unknown keys people often write (ansible_host → address).
// - `x-unknown-hint`: appended to every unknown-key message of that mapping ("variables go under vars:").
// Any other `x-…` keyword is accepted as documentation.

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { InputProblem } from './errors.js';
import { formatPath, valueAt, type Source, type SourcePath } from './source.js';

type Schema = Record<string, unknown>;

// ajv costs more CPU at start-up than the rest of the CLI together (importing it, and compiling a
// schema as big as a module's takes longer than validating a whole playbook). `npm run build`
// therefore precompiles every schema hvtune ships into standalone validators
// (scripts/build-schemas.mjs → dist/src/schemas/validators/KEY.cjs); ajv itself loads only for a
// schema without one (tests, ad hoc schemas, a stale build).
const require = createRequire(import.meta.url);
const PRECOMPILED = './schemas/validators';

const AJV_OPTIONS = { allErrors: true, strict: true, allowUnionTypes: true, verbose: true } as const;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Part of every schema key, so a build made with other options or formats is not used. */
const SETUP = JSON.stringify({ ajv: 8, options: AJV_OPTIONS, identifier: IDENTIFIER.source });

/** An Ajv instance as validation needs it; `standalone` keeps the code for ajv/dist/standalone. */
function newAjv(opts: { standalone?: boolean } = {}): Ajv {
  const lib = require('ajv') as typeof import('ajv');
  const { _Code } = require('ajv/dist/compile/codegen/code.js') as typeof import('ajv/dist/compile/codegen/code.js');
  const code = opts.standalone ? { source: true, formats: new _Code(`({identifier: ${IDENTIFIER}})`) } : {};
  const ajv = new lib.Ajv({ ...AJV_OPTIONS, code });
  ajv.addFormat('identifier', IDENTIFIER);
  return ajv;
}

/** Our `x-…` keywords are annotations: declared so that strict mode accepts them, no code. */
function registerAnnotations(ajv: Ajv, schema: unknown): void {
  if (schema === null || typeof schema !== 'object') return;
  for (const [key, sub] of Object.entries(schema)) {
    if (key.startsWith('x-') && !ajv.getKeyword(key)) ajv.addKeyword({ keyword: key });
    registerAnnotations(ajv, sub);
  }
}

/** Name of a schema's precompiled validator: a hash of its JSON (key order included) and the setup. */
export function schemaKey(schema: object): string {
  return 'v' + createHash('sha256').update(SETUP).update(JSON.stringify(schema)).digest('hex').slice(0, 32);
}

/**
 * Standalone validators for these schemas, by schemaKey: each the source of a CommonJS module
 * exporting the function. Its error objects are those ajv.compile gives (verbose: parentSchema and
 * data included). One module per schema, so a run loads only the validators it uses.
 */
export function standaloneValidators(schemas: Iterable<object>): Map<string, string> {
  const { default: standaloneCode } = require('ajv/dist/standalone/index.js') as typeof import('ajv/dist/standalone/index.js');
  const ajv = newAjv({ standalone: true });
  const modules = new Map<string, string>();
  for (const schema of schemas) {
    const key = schemaKey(schema);
    if (modules.has(key)) continue;
    registerAnnotations(ajv, schema);
    modules.set(key, standaloneCode(ajv, ajv.compile(schema)));
  }
  return modules;
}

function precompiledValidator(schema: object): ValidateFunction | undefined {
  try {
    return require(`${PRECOMPILED}/${schemaKey(schema)}.cjs`) as ValidateFunction;
  } catch (error) {
    // not built (tests run the sources), or not a shipped schema: compile at run time
    if ((error as { code?: string }).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

let runtimeAjv: Ajv | undefined;
const compiled = new WeakMap<object, ValidateFunction>();

/** Compile (once) a schema. A schema that ajv rejects is a bug in hvtune, not in the input. */
export function compileSchema(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = precompiledValidator(schema);
    if (!validate) {
      runtimeAjv ??= newAjv();
      registerAnnotations(runtimeAjv, schema);
      validate = runtimeAjv.compile(schema);
    }
    compiled.set(schema, validate);
  }
  return validate;
}

export interface CheckOptions {
  /** Source the value came from, for positions. */
  source?: Source;
  /** Where the value sits inside the source (module args: [0, 'tasks', 2, 'sysctl']). */
  at?: SourcePath;
  /** Readable name of the source root, e.g. 'plays' for a playbook (a list). */
  root?: string;
  /** Drop problems at these paths (relative to the value), e.g. values still to be rendered. */
  skip?(path: SourcePath, keyword: string): boolean;
}

/** Validate a value; return every problem, sorted by position. */
export function checkSchema(schema: object, value: unknown, opts: CheckOptions = {}): InputProblem[] {
  const validate = compileSchema(schema);
  if (validate(value)) return [];
  const at = opts.at ?? [];
  const seen = new Set<string>();
  const problems: InputProblem[] = [];
  for (const error of collapseAlternatives(validate.errors ?? [])) {
    const explained = explain(error, value);
    if (!explained || opts.skip?.(explained.path, error.keyword)) continue;
    const full = [...at, ...explained.path];
    const located = [...at, ...(explained.posPath ?? explained.path)];
    // A data key (a sysctl name) reads better in the message than in the path.
    const last = full[full.length - 1];
    const dataKey = typeof last === 'string' && !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(last);
    const problem: InputProblem = {
      pos: opts.source?.pos(located),
      path: formatPath(dataKey ? full.slice(0, -1) : full, opts.root) || undefined,
      message: dataKey ? `${JSON.stringify(last)} ${explained.message}` : explained.message,
    };
    const key = `${problem.path}\u0000${problem.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(problem);
    }
  }
  return sortProblems(problems);
}

export function sortProblems(problems: InputProblem[]): InputProblem[] {
  return problems.sort(
    (a, b) =>
      (a.pos?.file ?? '').localeCompare(b.pos?.file ?? '') ||
      (a.pos?.line ?? 0) - (b.pos?.line ?? 0) ||
      (a.pos?.column ?? 0) - (b.pos?.column ?? 0) ||
      a.message.localeCompare(b.message),
  );
}

const isCombinator = (e: ErrorObject) => e.keyword === 'anyOf' || e.keyword === 'oneOf';
const under = (path: string, parent: string) => path === parent || path.startsWith(parent + '/');

/**
 * ajv reports every failed branch of anyOf/oneOf plus the combinator itself. Keep the one
 * explanation that helps: the branch the value came closest to, or "must be A or B" when the
 * value has the wrong type for every branch. Innermost combinators first.
 */
function collapseAlternatives(errors: ErrorObject[]): ErrorObject[] {
  let list = errors.slice();
  const combinators = list.filter(isCombinator).sort((a, b) => b.schemaPath.length - a.schemaPath.length);
  for (const combinator of combinators) {
    const index = list.indexOf(combinator);
    if (index < 0) continue;
    const prefix = combinator.schemaPath + '/';
    const members = list.filter(
      (e) => e !== combinator && e.schemaPath.startsWith(prefix) && under(e.instancePath, combinator.instancePath),
    );
    const chosen = chooseBranch(combinator, members);
    list = list.filter((e) => e !== combinator && !members.includes(e));
    list.splice(Math.min(index, list.length), 0, ...chosen);
  }
  return list;
}

function chooseBranch(combinator: ErrorObject, members: ErrorObject[]): ErrorObject[] {
  const custom = (combinator.parentSchema as Schema | undefined)?.['x-message'];
  if (typeof custom === 'string') return [{ ...combinator, keyword: 'x-message', message: custom }];
  const passing = (combinator.params as { passingSchemas?: number[] | null }).passingSchemas;
  if (passing) return [{ ...combinator, message: 'matches more than one of the allowed forms' }];
  if (members.length === 0) return [combinator];
  const branches = new Map<string, ErrorObject[]>();
  for (const e of members) {
    const branch = e.schemaPath.slice(combinator.schemaPath.length + 1).split('/')[0];
    branches.set(branch, [...(branches.get(branch) ?? []), e]);
  }
  const wrongShape = (errs: ErrorObject[]) =>
    errs.some((e) => e.instancePath === combinator.instancePath && ['type', 'const', 'enum'].includes(e.keyword));
  const candidates = [...branches.values()].filter((errs) => !wrongShape(errs));
  if (candidates.length > 0) return candidates.reduce((best, errs) => (errs.length < best.length ? errs : best));
  const forms = [...branches.values()].map((errs) => {
    const e = errs.find((x) => x.instancePath === combinator.instancePath && ['type', 'const', 'enum'].includes(x.keyword))!;
    if (e.keyword === 'type') return typeNames(e.params.type);
    if (e.keyword === 'const') return JSON.stringify(e.params.allowedValue);
    return 'one of: ' + listValues(e.params.allowedValues);
  });
  return [{ ...combinator, keyword: 'x-message', message: `must be ${orList(unique(forms))}, got ${describeValue(combinator.data)}` }];
}

interface Explained {
  path: SourcePath;
  /** Where to point when it differs from path (an unknown key: the key itself). */
  posPath?: SourcePath;
  message: string;
}

function explain(e: ErrorObject, root: unknown): Explained | undefined {
  const path = instanceSegments(e.instancePath, root);
  const parent = (e.parentSchema ?? {}) as Schema;
  const p = e.params as Record<string, any>;
  const got = `got ${describeValue(e.data)}`;
  const propertyName = (e as { propertyName?: string }).propertyName;
  if (e.keyword === 'x-message') return { path, message: e.message ?? 'is invalid' };
  if (e.keyword === 'propertyNames' || e.keyword === 'if') return undefined; // the inner error says it
  if (propertyName !== undefined) {
    const inner = typeof parent['x-message'] === 'string' ? parent['x-message'] : innerMessage(e, p, parent);
    return { path, posPath: [...path, propertyName], message: `invalid key ${JSON.stringify(propertyName)}: ${inner}` };
  }
  switch (e.keyword) {
    case 'additionalProperties':
      return { path, posPath: [...path, p.additionalProperty], message: unknownKeyMessage(p.additionalProperty, parent) };
    case 'required':
      return { path, posPath: [...path, p.missingProperty], message: `missing required key ${JSON.stringify(p.missingProperty)}` };
    case 'dependentRequired':
    case 'dependencies':
      return { path, message: `${JSON.stringify(p.property)} requires ${JSON.stringify(p.missingProperty)}` };
  }
  if (typeof parent['x-message'] === 'string') return { path, message: parent['x-message'] };
  return { path, message: innerMessage(e, p, parent, got) };
}

function innerMessage(e: ErrorObject, p: Record<string, any>, _parent: Schema, got = ''): string {
  const tail = got ? `, ${got}` : '';
  switch (e.keyword) {
    case 'type': {
      const yes = typeof e.data === 'string' && /^(yes|no|on|off|y|n|True|False|TRUE|FALSE)$/.test(e.data);
      const hint = yes && String(p.type).includes('boolean') ? ' (YAML 1.2: write true or false)' : '';
      return `must be ${typeNames(p.type)}${tail}${hint}`;
    }
    case 'enum': {
      const close = typeof e.data === 'string' ? closestMatches(e.data, p.allowedValues.map(String)) : [];
      const mean = close.length ? ` (did you mean ${JSON.stringify(close[0])}?)` : '';
      return `must be one of: ${listValues(p.allowedValues)}${tail}${mean}`;
    }
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}${tail}`;
    case 'pattern':
      return `must match ${p.pattern}${tail}`;
    case 'format':
      return `must be a valid ${p.format}${tail}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${p.comparison} ${p.limit}${tail}`;
    case 'multipleOf':
      return `must be a multiple of ${p.multipleOf}${tail}`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${p.limit} characters long${tail}`;
    case 'maxLength':
      return `must be at most ${p.limit} characters long`;
    case 'minItems':
      return `must have at least ${plural(p.limit, 'item')}`;
    case 'maxItems':
      return `must have at most ${plural(p.limit, 'item')}`;
    case 'minProperties':
      return `must have at least ${plural(p.limit, 'key')}`;
    case 'maxProperties':
      return `must have at most ${plural(p.limit, 'key')}`;
    case 'uniqueItems':
      return `must not contain duplicates (items ${p.j} and ${p.i} are equal)`;
    case 'not':
      return 'is not allowed here';
    case 'anyOf':
    case 'oneOf':
      return e.message === 'matches more than one of the allowed forms' ? e.message : 'does not match any allowed form';
    default:
      return e.message ?? `is invalid (${e.keyword})`;
  }
}

/** `unknown key "adress", did you mean "address"? (expected one of: address, port, …)` */
export function unknownKeyMessage(key: string, schema: Schema): string {
  const known = Object.keys((schema.properties as Schema | undefined) ?? {});
  const hints = (schema['x-key-hints'] as Record<string, string> | undefined) ?? {};
  const extra = schema['x-unknown-hint'];
  const suggestion = hints[key] ?? closestMatches(key, known)[0];
  let message = `unknown key ${JSON.stringify(key)}`;
  if (suggestion) message += `, did you mean ${JSON.stringify(suggestion)}?`;
  else if (typeof extra === 'string') message += `: ${extra}`;
  if (known.length) message += ` (expected one of: ${listWords(known)})`;
  return message;
}

/** JSON pointer → path segments; array indexes become numbers. */
function instanceSegments(pointer: string, root: unknown): SourcePath {
  if (!pointer) return [];
  const segments: (string | number)[] = [];
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    segments.push(Array.isArray(valueAt(root, segments)) && /^\d+$/.test(key) ? Number(key) : key);
  }
  return segments;
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
};

function typeNames(type: string | string[]): string {
  const types = String(type).split(',');
  return orList(types.map((t) => TYPE_NAMES[t] ?? t));
}

/** "a, b or c" */
function orList(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** A value as a message shows it: strings quoted, collections by kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value);
  return String(value);
}

function listValues(values: unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
}

/** At most 10 words, then "…". */
export function listWords(words: readonly string[], max = 10): string {
  return words.length > max ? words.slice(0, max).join(', ') + ', …' : words.join(', ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

/** Candidates within a small edit distance of `word`, closest first (for "did you mean"). */
export function closestMatches(word: string, candidates: Iterable<string>, max = 3): string[] {
  const limit = word.length < 3 ? 0 : Math.max(1, Math.floor(word.length / 3));
  const lower = word.toLowerCase();
  return [...new Set(candidates)]
    .map((c) => ({ c, d: editDistance(lower, c.toLowerCase()) }))
    .filter(({ c, d }) => d <= limit || (lower.length >= 3 && c.toLowerCase().startsWith(lower)))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, max)
    .map(({ c }) => c);
}

/** Optimal string alignment distance: a swap of two neighbours counts as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
