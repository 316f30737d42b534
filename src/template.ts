// Handlebars, strict: task arguments are rendered with vars and facts, and a variable that is not
// defined is an error naming the task and the variable, never an empty string. No HTML escaping.
//
// A string that is exactly one mustache ("{{ cpu_count }}", "{{node_cpus facts 0}}") keeps the
// type of its value (number, boolean, list, mapping): the expression is evaluated through a
// capturing helper rather than guessed back from text.
//
// `when:` is a Handlebars expression WITHOUT braces ("eq facts.cpu.vendor 'AuthenticAMD'",
// "and (defined nic) (gt facts.cpu.count 8)") or a boolean. Helpers take positional arguments only.
// `default x y` and `defined x` accept undefined variables; everywhere else they are errors.

import Handlebars from 'handlebars';
import { InputError, type InputProblem, type SourcePosition } from './errors.js';
import { closestMatches } from './schema.js';
import { topologyHelpers } from './topology.js';

/** Where a template comes from, for messages: `site.yml:9:7 plays[0].tasks[1] "tune nic": …` */
export interface TemplateWhere {
  task: string;
  path: string;
  pos: SourcePosition;
}

export type TemplateContext = Record<string, unknown>;
type Helper = (...args: any[]) => unknown;

const hb = Handlebars.create();
const CAPTURE = '__hvtune_capture';
const TEXT = '__hvtune_text';
/** Helpers whose arguments may be undefined variables. */
const LENIENT = new Set(['default', 'defined']);
const captures: { value: unknown }[] = [];
const compiled = new Map<string, HandlebarsTemplateDelegate>();

hb.registerHelper(CAPTURE, (value: unknown) => {
  captures[captures.length - 1].value = value;
  return '';
});
// Every mustache of a text template goes through this: Handlebars with noEscape adds two adjacent
// numbers ("{{a}}{{b}}" with 8 and 8 gives "16"), and a mapping would print as [object Object].
hb.registerHelper(TEXT, (value: unknown) =>
  value === undefined || value === null ? '' : typeof value === 'object' && !Array.isArray(value) ? JSON.stringify(value) : String(value),
);

/** Add helpers (the built-ins and topology helpers below are added at load). They get their positional arguments only. */
export function registerHelpers(helpers: Record<string, Helper>): void {
  for (const [name, fn] of Object.entries(helpers)) {
    hb.registerHelper(name, (...args: unknown[]) => fn(...args.slice(0, -1)));
    compiled.clear();
  }
}

export function isTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value) && !Number.isNaN(value);
}

/** Render strings anywhere in a value (keys too). Throws InputError with every problem. */
export function renderValue(value: unknown, ctx: TemplateContext, where: TemplateWhere): unknown {
  const problems: InputProblem[] = [];
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return renderOne(node, ctx, where, problems);
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(node)) out[String(walk(key))] = walk(inner);
      return out;
    }
    return node;
  };
  const result = walk(value);
  if (problems.length) throw new InputError(problems);
  return result;
}

/** `when:`: a boolean, or an expression without braces evaluated to a truthy value. */
export function evalCondition(when: string | boolean, ctx: TemplateContext, where: TemplateWhere): boolean {
  if (typeof when === 'boolean') return when;
  const problems: InputProblem[] = [];
  let value: unknown;
  if (when.includes('{{')) {
    value = renderOne(when, ctx, where, problems);
    if (typeof value === 'string') value = !/^\s*(false|no|0|none|null)?\s*$/i.test(value);
  } else {
    value = renderOne(`{{${when}}}`, ctx, where, problems, 'when');
  }
  if (problems.length) throw new InputError(problems);
  return isTruthy(value);
}

/** `loop:`: a list (items may be templates) or one mustache evaluating to a list. */
export function renderLoop(loop: unknown, ctx: TemplateContext, where: TemplateWhere): unknown[] {
  const items = renderValue(loop, ctx, where);
  if (Array.isArray(items)) return items;
  throw new InputError([problem(where, `loop must be a list, got ${kindOf(items)}`)]);
}

/**
 * The variables a value's templates read (the first name of every path: `facts` for
 * `{{node_cpus facts.numa 0}}`), helpers excluded. A `when` expression is given without braces
 * (`condition: true`). Unparsable text reads nothing here: rendering reports it.
 */
export function templateVariables(value: unknown, opts: { condition?: boolean } = {}): Set<string> {
  const names = new Set<string>();
  const visitText = (text: string, condition: boolean) => {
    const source = condition && !text.includes('{{') ? `{{${text}}}` : text;
    if (!source.includes('{{')) return;
    let ast: hbs.AST.Program;
    try {
      ast = hb.parse(source) as unknown as hbs.AST.Program;
    } catch {
      return;
    }
    const helpers = new Set<hbs.AST.Node>();
    const visit = (node: unknown) => {
      if (node === null || typeof node !== 'object') return;
      const n = node as hbs.AST.Node & { path?: hbs.AST.Node; params?: unknown[]; hash?: { pairs: unknown[] } };
      // `{{name args…}}` and `(name args…)`: the name is a helper; a bare `{{name}}` is one only if registered
      if ((n.type === 'MustacheStatement' || n.type === 'SubExpression' || n.type === 'BlockStatement') && isPath(n.path)) {
        if ((n.params?.length ?? 0) > 0 || (n.hash?.pairs.length ?? 0) > 0 || n.path.original in hb.helpers) helpers.add(n.path);
      }
      if (n.type === 'PathExpression' && !helpers.has(n)) {
        const p = n as hbs.AST.PathExpression;
        if (p.parts.length > 0 && !p.data) names.add(p.parts[0]);
      }
      for (const [key, inner] of Object.entries(node)) if (key !== 'loc') Array.isArray(inner) ? inner.forEach(visit) : visit(inner);
    };
    visit(ast);
  };
  const walk = (node: unknown) => {
    if (typeof node === 'string') visitText(node, !!opts.condition);
    else if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === 'object') {
      for (const [key, inner] of Object.entries(node)) {
        walk(key);
        walk(inner);
      }
    }
  };
  walk(value);
  return names;
}

function renderOne(text: string, ctx: TemplateContext, where: TemplateWhere, problems: InputProblem[], what?: 'when'): unknown {
  if (!text.includes('{{')) return text;
  let ast: hbs.AST.Program;
  try {
    ast = hb.parse(text) as unknown as hbs.AST.Program;
  } catch (err) {
    const hint = what === 'when' ? ` (when is a Handlebars expression without braces, e.g. "eq facts.cpu.vendor 'AuthenticAMD'")` : '';
    const shown = what === 'when' ? text.slice(2, -2) : text;
    problems.push(problem(where, `invalid ${what ?? 'template'} ${JSON.stringify(shown)}: ${syntaxError(err)}${hint}`));
    return text;
  }
  const unknownHelper = markStrict(ast);
  if (unknownHelper) {
    const close = closestMatches(
      unknownHelper,
      Object.keys(hb.helpers).filter((h) => !h.startsWith('__hvtune')),
    );
    const mean = close.length ? `, did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : '';
    problems.push(problem(where, `unknown helper "${unknownHelper}" in ${JSON.stringify(text)}${mean}`));
    return text;
  }
  const single = ast.body.length === 1 && ast.body[0].type === 'MustacheStatement';
  const key = (single ? 'typed\u0000' : 'text\u0000') + text;
  let template = compiled.get(key);
  if (!template) {
    const program = single ? captureProgram(ast.body[0] as hbs.AST.MustacheStatement) : textProgram(ast);
    template = hb.compile(program as unknown as hbs.AST.Program, { strict: true, noEscape: true });
    compiled.set(key, template);
  }
  captures.push({ value: undefined });
  try {
    const out = template(ctx);
    return single ? captures[captures.length - 1].value : out;
  } catch (err) {
    problems.push(problem(where, explainFailure(err, ast, ctx)));
    return text;
  } finally {
    captures.pop();
  }
}

/** `{{ expr }}` → `{{__hvtune_capture (expr)}}`, so the value comes back with its type. */
function captureProgram(m: hbs.AST.MustacheStatement): hbs.AST.Program {
  return { type: 'Program', body: [throughHelper(m, CAPTURE)], blockParams: [], strip: {}, loc: m.loc } as unknown as hbs.AST.Program;
}

/** Every `{{ expr }}` of a text template (blocks included) → `{{__hvtune_text (expr)}}`. */
function textProgram(program: hbs.AST.Program): hbs.AST.Program {
  const body = program.body.map((node) => {
    if (node.type === 'MustacheStatement') return throughHelper(node as hbs.AST.MustacheStatement, TEXT);
    if (node.type !== 'BlockStatement') return node;
    const block = node as hbs.AST.BlockStatement;
    return { ...block, program: block.program && textProgram(block.program), inverse: block.inverse && textProgram(block.inverse) };
  });
  return { ...program, body };
}

function throughHelper(m: hbs.AST.MustacheStatement, helper: string): hbs.AST.MustacheStatement {
  const isCall = m.params.length > 0 || (m.hash?.pairs.length ?? 0) > 0 || (isPath(m.path) && hb.helpers[m.path.original] !== undefined);
  const expr: hbs.AST.Expression = isCall
    ? ({ type: 'SubExpression', path: m.path, params: m.params, hash: m.hash, loc: m.loc } as hbs.AST.SubExpression)
    : m.path;
  if (isPath(expr)) (expr as hbs.AST.PathExpression & { strict?: boolean }).strict = true;
  const path: hbs.AST.PathExpression = { type: 'PathExpression', data: false, depth: 0, parts: [helper], original: helper, loc: m.loc };
  return { ...m, path, params: [expr], hash: undefined as unknown as hbs.AST.Hash, escaped: false };
}

/**
 * Handlebars' strict mode checks plain mustaches only; make helper arguments strict too (except
 * for `default`/`defined`). Returns the name of an unknown helper, if one is called.
 */
function markStrict(ast: hbs.AST.Program): string | undefined {
  let unknown: string | undefined;
  const visitCall = (node: hbs.AST.MustacheStatement | hbs.AST.SubExpression | hbs.AST.BlockStatement) => {
    const name = isPath(node.path) ? node.path.original : undefined;
    const isCall = node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0 || node.type === 'SubExpression';
    if (isCall && name !== undefined && hb.helpers[name] === undefined) unknown ??= name;
    const lenient = name !== undefined && LENIENT.has(name);
    for (const param of [...node.params, ...(node.hash?.pairs.map((p) => p.value) ?? [])]) {
      if (isPath(param) && !lenient) (param as hbs.AST.PathExpression & { strict?: boolean }).strict = true;
      if (param.type === 'SubExpression') visitCall(param as hbs.AST.SubExpression);
    }
  };
  const visit = (program: hbs.AST.Program | undefined) => {
    for (const node of program?.body ?? []) {
      if (node.type === 'MustacheStatement') visitCall(node as hbs.AST.MustacheStatement);
      if (node.type === 'BlockStatement') {
        const block = node as hbs.AST.BlockStatement;
        visitCall(block);
        visit(block.program);
        visit(block.inverse);
      }
    }
  };
  visit(ast);
  return unknown;
}

/** Turn a Handlebars or helper failure into one sentence about the template. */
function explainFailure(err: unknown, ast: hbs.AST.Program, ctx: TemplateContext): string {
  const message = firstLine(err);
  const notDefined = /^"(.+?)" not defined in/.exec(message);
  if (notDefined) {
    const e = err as { lineNumber?: number; column?: number };
    const path = paths(ast).find((p) => p.loc?.start.line === e.lineNumber && p.loc?.start.column === e.column);
    return `undefined variable "${path?.original ?? notDefined[1]}"`;
  }
  const inString = /Cannot use 'in' operator to search for '(.+?)' in/.exec(message);
  if (inString) return `undefined variable "${inString[1]}"`;
  const reading = /Cannot read propert(?:y|ies) of (?:undefined|null) \(reading '(.+)'\)/.exec(message);
  if (reading) {
    for (const p of paths(ast)) {
      const missing = missingPrefix(p.parts, ctx);
      if (missing && p.parts[missing.length] === reading[1]) return `undefined variable "${missing.join('.')}"`;
    }
    return `undefined variable (while reading "${reading[1]}")`;
  }
  return message;
}

/** The shortest prefix of a path that is undefined, if the path cannot be resolved. */
function missingPrefix(parts: string[], ctx: TemplateContext): string[] | undefined {
  let node: unknown = ctx;
  for (let i = 0; i < parts.length; i++) {
    if (node === null || node === undefined) return parts.slice(0, i);
    node = (node as Record<string, unknown>)[parts[i]];
  }
  return node === undefined ? parts : undefined;
}

function paths(ast: hbs.AST.Node): hbs.AST.PathExpression[] {
  const found: hbs.AST.PathExpression[] = [];
  const visit = (node: unknown) => {
    if (node === null || typeof node !== 'object') return;
    if ((node as hbs.AST.Node).type === 'PathExpression') found.push(node as hbs.AST.PathExpression);
    for (const [key, value] of Object.entries(node)) if (key !== 'loc') Array.isArray(value) ? value.forEach(visit) : visit(value);
  };
  visit(ast);
  return found;
}

function isPath(node: hbs.AST.Node | undefined): node is hbs.AST.PathExpression {
  return node?.type === 'PathExpression';
}

function problem(where: TemplateWhere, message: string): InputProblem {
  return { pos: where.pos, path: `${where.path} ${JSON.stringify(where.task)}`, message };
}

/** Handlebars' parse errors span lines (with an ASCII arrow); keep what was unexpected. */
function syntaxError(err: unknown): string {
  const message = String((err as Error)?.message ?? err);
  const got = /got '([^']+)'\s*$/.exec(message);
  if (got) return `unexpected ${got[1] === 'EOF' ? 'end of template' : got[1]}`;
  return /Lexical error/.test(message) ? 'unexpected characters' : firstLine(err);
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err)
    .split('\n')[0]
    .replace(/ - \d+:\d+$/, '');
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

// Built-in helpers, in the spirit of Jinja's tests and filters that Ansible users know.

function numbers(helper: string, values: unknown[]): number[] {
  for (const v of values) {
    if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${helper}: expected numbers, got ${kindOf(v)}`);
  }
  return values as number[];
}

function ordered(helper: string, a: unknown, b: unknown): [number, number] | [string, string] {
  if (typeof a === 'string' && typeof b === 'string') return [a, b];
  return numbers(helper, [a, b]) as [number, number];
}

/** min/max take numbers, or one list of numbers. */
const spread = (values: unknown[]): unknown[] => (values.length === 1 && Array.isArray(values[0]) ? values[0] : values);

registerHelpers({
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  lt: (a, b) => (([x, y]) => x < y)(ordered('lt', a, b)),
  le: (a, b) => (([x, y]) => x <= y)(ordered('le', a, b)),
  gt: (a, b) => (([x, y]) => x > y)(ordered('gt', a, b)),
  ge: (a, b) => (([x, y]) => x >= y)(ordered('ge', a, b)),
  // Python's and/or: they return an operand, so `or nic 'eth0'` works as a fallback.
  and: (...values) => values.find((v) => !isTruthy(v)) ?? values[values.length - 1],
  or: (...values) => values.find((v) => isTruthy(v)) ?? values[values.length - 1],
  not: (value) => !isTruthy(value),
  default: (value, fallback) => (value === undefined || value === null ? fallback : value),
  defined: (value) => value !== undefined,
  join: (list, separator = ',') => {
    if (!Array.isArray(list)) throw new Error(`join: expected a list, got ${kindOf(list)}`);
    return list.join(typeof separator === 'string' ? separator : ',');
  },
  len: (value) => {
    if (typeof value === 'string' || Array.isArray(value)) return value.length;
    if (value !== null && typeof value === 'object') return Object.keys(value).length;
    throw new Error(`len: expected a list, a mapping or a string, got ${kindOf(value)}`);
  },
  includes: (collection, item) => {
    if (Array.isArray(collection)) return collection.includes(item);
    if (typeof collection === 'string') return collection.includes(String(item));
    if (collection !== null && typeof collection === 'object') return Object.hasOwn(collection, String(item));
    throw new Error(`includes: expected a list, a mapping or a string, got ${kindOf(collection)}`);
  },
  min: (...values) => Math.min(...numbers('min', spread(values))),
  max: (...values) => Math.max(...numbers('max', spread(values))),
  add: (a, b) => {
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
    if (typeof a === 'string' && typeof b === 'string') return a + b;
    const [x, y] = numbers('add', [a, b]);
    return x + y;
  },
  sub: (a, b) => (([x, y]) => x - y)(numbers('sub', [a, b])),
  mul: (a, b) => (([x, y]) => x * y)(numbers('mul', [a, b])),
  div: (a, b) => {
    const [x, y] = numbers('div', [a, b]);
    if (y === 0) throw new Error('div: division by zero');
    return x / y;
  },
  json: (value) => JSON.stringify(value),
});

// The topology helpers (node_cpus, pin_vm…) are part of the language every template is written in:
// installed here, once, so no caller can render without them.
registerHelpers(topologyHelpers);
