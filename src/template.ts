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

import { createRequire } from 'node:module';
import type HandlebarsNamespace from 'handlebars';
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

const CAPTURE = '__hvtune_capture';
const TEXT = '__hvtune_text';
/** Helpers whose arguments may be undefined variables. */
const LENIENT = new Set(['default', 'defined']);
const captures: { value: unknown }[] = [];
const compiled = new Map<string, HandlebarsTemplateDelegate>();

// Handlebars is loaded with the first template: a run whose playbooks have none does not pay for
// it at start-up (about 25 ms of the CLI's 140 ms). It is CommonJS, so a require loads it at once.
const requireCommonJs = createRequire(import.meta.url);
let instance: typeof HandlebarsNamespace | undefined;
/** Helpers registered before Handlebars was loaded, added when it is. */
const helpers = new Map<string, Helper>();

function hb(): typeof HandlebarsNamespace {
  if (instance) return instance;
  const h = (requireCommonJs('handlebars') as typeof HandlebarsNamespace).create();
  h.registerHelper(CAPTURE, (value: unknown) => {
    captures[captures.length - 1].value = value;
    return '';
  });
  // Every mustache of a text template goes through this: Handlebars with noEscape adds two adjacent
  // numbers ("{{a}}{{b}}" with 8 and 8 gives "16"), and a mapping would print as [object Object].
  h.registerHelper(TEXT, (value: unknown) =>
    value === undefined || value === null ? '' : typeof value === 'object' && !Array.isArray(value) ? JSON.stringify(value) : String(value),
  );
  for (const [name, fn] of helpers) h.registerHelper(name, positionalOnly(fn));
  instance = h;
  return h;
}

/** A helper as Handlebars calls it: without the options object it passes last. */
const positionalOnly =
  (fn: Helper) =>
  (...args: unknown[]) =>
    fn(...args.slice(0, -1));

/** Add helpers (the built-ins and topology helpers below are added at load). They get their positional arguments only. */
export function registerHelpers(more: Record<string, Helper>): void {
  for (const [name, fn] of Object.entries(more)) {
    helpers.set(name, fn);
    instance?.registerHelper(name, positionalOnly(fn));
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
      ast = hb().parse(source) as unknown as hbs.AST.Program;
    } catch {
      return;
    }
    const helpers = new Set<hbs.AST.Node>();
    const visit = (node: unknown) => {
      if (node === null || typeof node !== 'object') return;
      const n = node as hbs.AST.Node & { path?: hbs.AST.Node; params?: unknown[]; hash?: { pairs: unknown[] } };
      // `{{name args…}}` and `(name args…)`: the name is a helper; a bare `{{name}}` is one only if registered
      if ((n.type === 'MustacheStatement' || n.type === 'SubExpression' || n.type === 'BlockStatement') && isPath(n.path)) {
        if ((n.params?.length ?? 0) > 0 || (n.hash?.pairs.length ?? 0) > 0 || n.path.original in hb().helpers) helpers.add(n.path);
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
    ast = hb().parse(text) as unknown as hbs.AST.Program;
  } catch (err) {
    const hint = what === 'when' ? ` (when is a Handlebars expression without braces, e.g. "eq facts.cpu.vendor 'AuthenticAMD'")` : '';
    const shown = what === 'when' ? text.slice(2, -2) : text;
    problems.push(problem(where, `invalid ${what ?? 'template'} ${JSON.stringify(shown)}: ${syntaxError(err)}${hint}`));
    return text;
  }
  // templates from local files (file's template:) are first seen here: the same refusals apply
  const refused = checkTemplate(text, { condition: what === 'when' }).find((f) => PROTOTYPE_FINDING.test(f.message));
  if (refused) {
    problems.push(problem(where, refused.message));
    return text;
  }
  const unknownHelper = markStrict(ast);
  if (unknownHelper) {
    const close = closestMatches(
      unknownHelper,
      Object.keys(hb().helpers).filter((h) => !h.startsWith('__hvtune')),
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
    template = hb().compile(program as unknown as hbs.AST.Program, { strict: true, noEscape: true });
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
  const isCall = m.params.length > 0 || (m.hash?.pairs.length ?? 0) > 0 || (isPath(m.path) && hb().helpers[m.path.original] !== undefined);
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
    if (isCall && name !== undefined && hb().helpers[name] === undefined) unknown ??= name;
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

/** Handlebars' grammar tokens, as a person reads them in a template. */
const TOKEN_NAMES: Record<string, string> = {
  EOF: 'end of template',
  INVALID: 'character',
  EQUALS: '"="',
  CLOSE_BLOCK_PARAMS: '"|"',
  OPEN_BLOCK_PARAMS: '"as |"',
  CLOSE: '"}}"',
  OPEN: '"{{"',
  OPEN_SEXPR: '"("',
  CLOSE_SEXPR: '")"',
  ID: 'name',
  STRING: 'string',
  NUMBER: 'number',
  SEP: '"."',
};

/** Handlebars' parse errors span lines (with an ASCII arrow); keep what was unexpected. */
function syntaxError(err: unknown): string {
  const message = String((err as Error)?.message ?? err);
  const got = /got '([^']+)'\s*$/.exec(message);
  if (got) return `unexpected ${TOKEN_NAMES[got[1]] ?? got[1]}`;
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

// ---- checking templates before anything connects ----

/** One problem of a template: `offset` is where in the template text it starts. */
export interface TemplateFinding {
  offset: number;
  message: string;
}

/** What a template may read, for checkTemplate: the variables of every host the task runs on. */
export interface TemplateScope {
  /** Why `name` is not defined (for every host), or undefined when it is. */
  missing(name: string): string | undefined;
  /** Names that are defined somewhere, for "did you mean". */
  known(): Iterable<string>;
  /** JSON Schema of `facts` (src/schemas/facts.ts): paths under facts are checked against it. */
  facts?: object;
}

const PROTOTYPE_FINDING = /a property of every JavaScript object/;
/** Names a template may never read: Object.prototype's (Handlebars would refuse or leak them at run time). */
const PROTOTYPE_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);
/** Helpers of Handlebars itself that a template has no business calling by name. */
const INTERNAL_HELPERS = new Set(['helperMissing', 'blockHelperMissing', CAPTURE, TEXT]);
/** Block helpers whose body reads another context (an item, a mapping): its bare names are not variables. */
const CONTEXT_BLOCKS = new Set(['each', 'with']);

function knownHelpers(): string[] {
  return Object.keys(hb().helpers).filter((h) => !INTERNAL_HELPERS.has(h));
}

/**
 * Check a template (or a `when:` expression, `condition: true`) without rendering it: its syntax,
 * the helpers it calls, prototype lookups, and — with a scope — the variables and facts it reads.
 * Jinja habits (`| default(30)`, `buf * 2`, `a == "b"`) get the Handlebars form hvtune accepts.
 */
export function checkTemplate(text: string, opts: { condition?: boolean; scope?: TemplateScope } = {}): TemplateFinding[] {
  const wrapped = !!opts.condition && !text.includes('{{');
  const source = wrapped ? `{{${text}}}` : text;
  if (!source.includes('{{')) return [];
  const shift = wrapped ? -2 : 0;
  const offsetOf = (loc: hbs.AST.SourceLocation | undefined): number => Math.max(0, locOffset(source, loc) + shift);
  let ast: hbs.AST.Program;
  try {
    ast = hb().parse(source) as unknown as hbs.AST.Program;
  } catch (err) {
    const at = parseErrorOffset(source, err);
    const hint = jinjaHint(text, !!opts.condition);
    const what = opts.condition ? 'when expression' : 'template';
    return [
      {
        offset: Math.max(0, at + shift),
        message: `invalid ${what} ${JSON.stringify(text)}: ${syntaxError(err)}${hint ? `; ${hint}` : ''}`,
      },
    ];
  }
  const findings: TemplateFinding[] = [];
  const add = (loc: hbs.AST.SourceLocation | undefined, message: string) => findings.push({ offset: offsetOf(loc), message });
  const helpers = new Set(knownHelpers());

  interface Frame {
    /** bare names are variables (false inside each/with bodies) */
    variables: boolean;
    /** names guarded by `defined` in an enclosing `if` (or the task's when) */
    guarded: ReadonlySet<string>;
    blockParams: ReadonlySet<string>;
  }

  const checkPath = (p: hbs.AST.PathExpression, frame: Frame, lenient: boolean) => {
    const bad = p.parts.find((part) => PROTOTYPE_NAMES.has(part));
    if (bad !== undefined) {
      add(p.loc, `"${p.original}" reads "${bad}", a property of every JavaScript object: templates may read variables and facts only`);
      return;
    }
    if (lenient || !opts.scope) return;
    let parts = p.parts;
    if (p.data) {
      if (parts[0] !== 'root') return; // @index, @key, @first…
      parts = parts.slice(1);
    } else if (!frame.variables || p.depth > 0 || (p as { this_?: boolean }).this_ || parts.length === 0) return;
    const name = parts[0];
    if (name === undefined || frame.blockParams.has(name) || frame.guarded.has(name)) return;
    if (name === 'facts') {
      const problem = opts.scope.facts ? factsPathProblem(opts.scope.facts, parts.slice(1)) : undefined;
      if (problem) add(p.loc, problem);
      return;
    }
    const why = opts.scope.missing(name);
    if (why === undefined) return;
    const close = closestMatches(name, opts.scope.known()).filter((c) => c !== name);
    const mean = close.length ? `did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : '';
    add(p.loc, `undefined variable "${name}"${why ? `: ${why}` : ''}${mean ? `${why ? '; ' : ': '}${mean}` : ''}`);
  };

  const checkExpr = (node: hbs.AST.Expression, frame: Frame, lenient: boolean) => {
    if (isPath(node)) checkPath(node, frame, lenient);
    else if (node.type === 'SubExpression') checkCall(node as hbs.AST.SubExpression, frame);
  };

  const checkCall = (node: hbs.AST.MustacheStatement | hbs.AST.SubExpression | hbs.AST.BlockStatement, frame: Frame) => {
    const params = [...node.params, ...(node.hash?.pairs.map((pair) => pair.value) ?? [])];
    const name = isPath(node.path) ? node.path.original : undefined;
    const isCall = params.length > 0 || node.type !== 'MustacheStatement' || (name !== undefined && helpers.has(name));
    if (!isCall) {
      checkExpr(node.path as hbs.AST.Expression, frame, false);
      return;
    }
    if (name === undefined || !helpers.has(name)) {
      const shown = name ?? 'a literal';
      const close = name ? closestMatches(name, helpers) : [];
      const hint =
        infixHint(name, params, !!opts.condition) ?? (close.length ? `did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : '');
      add(node.loc, `unknown helper "${shown}"${hint ? `: ${hint}` : ` (helpers: ${knownHelpers().sort().join(', ')})`}`);
      return;
    }
    if (name === 'lookup') {
      for (const param of params) {
        const key = (param as hbs.AST.StringLiteral).value;
        if (param.type === 'StringLiteral' && PROTOTYPE_NAMES.has(key))
          add(param.loc, `lookup of "${key}", a property of every JavaScript object: templates may read variables and facts only`);
      }
    }
    const lenient = LENIENT.has(name);
    for (const param of params) checkExpr(param, frame, lenient);
  };

  const definedIn = (node: hbs.AST.Expression | undefined): string[] => {
    if (node?.type !== 'SubExpression') return [];
    const sub = node as hbs.AST.SubExpression;
    const name = isPath(sub.path) ? sub.path.original : '';
    if (name === 'defined') return sub.params.filter(isPath).map((p) => (p as hbs.AST.PathExpression).parts[0]);
    if (name === 'and') return sub.params.flatMap(definedIn);
    return [];
  };

  const visit = (program: hbs.AST.Program | undefined, frame: Frame) => {
    for (const node of program?.body ?? []) {
      if (node.type === 'MustacheStatement') checkCall(node as hbs.AST.MustacheStatement, frame);
      else if (node.type === 'BlockStatement') {
        const block = node as hbs.AST.BlockStatement;
        checkCall(block, frame);
        const name = isPath(block.path) ? block.path.original : '';
        const blockParams = new Set([...frame.blockParams, ...(block.program?.blockParams ?? [])]);
        const guarded = name === 'if' ? new Set([...frame.guarded, ...definedIn(block.params[0])]) : frame.guarded;
        const inner = { variables: frame.variables && !CONTEXT_BLOCKS.has(name), guarded, blockParams };
        visit(block.program, inner);
        visit(block.inverse, { ...frame, blockParams });
      }
    }
  };
  visit(ast, { variables: true, guarded: new Set(), blockParams: new Set() });
  return findings;
}

/** The `defined x` guards of a `when:` expression: a task whose when says `defined nic` may use nic. */
export function definedGuards(when: string | boolean | undefined): Set<string> {
  const out = new Set<string>();
  if (typeof when !== 'string') return out;
  let ast: hbs.AST.Program;
  try {
    ast = hb().parse(when.includes('{{') ? when : `{{${when}}}`) as unknown as hbs.AST.Program;
  } catch {
    return out;
  }
  const visit = (node: unknown) => {
    if (node === null || typeof node !== 'object') return;
    const n = node as hbs.AST.SubExpression;
    if ((n.type === 'SubExpression' || n.type === 'MustacheStatement') && isPath(n.path) && n.path.original === 'defined') {
      for (const p of n.params) if (isPath(p)) out.add(p.parts[0]);
    }
    // `not (defined x)` or `or (defined x) …` guards nothing: only plain and-chains are followed
    if (isPath(n.path) && (n.path.original === 'not' || n.path.original === 'or')) return;
    for (const [key, inner] of Object.entries(node)) if (key !== 'loc') Array.isArray(inner) ? inner.forEach(visit) : visit(inner);
  };
  visit(ast);
  return out;
}

/** Why `facts.<parts>` cannot exist according to the facts schema, or undefined when it can. */
function factsPathProblem(schema: object, parts: string[]): string | undefined {
  let node = schema as {
    type?: string | string[];
    properties?: Record<string, object>;
    additionalProperties?: object | boolean;
    items?: object;
  };
  const seen: string[] = ['facts'];
  for (const part of parts) {
    const types = ([] as string[]).concat(node.type ?? []);
    if (types.includes('array') && node.items) {
      if (!/^\d+$/.test(part) && part !== 'length')
        return `"${[...seen, part].join('.')}": ${seen.join('.')} is a list; use an index (${seen.join('.')}.[0]) or a helper`;
      if (part === 'length') return undefined;
      node = node.items as typeof node;
    } else if (types.includes('object') && node.properties) {
      const next = node.properties[part];
      if (!next) {
        if (node.additionalProperties && typeof node.additionalProperties === 'object') {
          node = node.additionalProperties as typeof node;
        } else {
          const close = closestMatches(part, Object.keys(node.properties));
          const mean = close.length ? `did you mean ${close.map((c) => `"${[...seen, c].join('.')}"`).join(' or ')}?` : '';
          return `unknown fact "${[...seen, part].join('.')}" (${mean || `${seen.join('.')} has: ${Object.keys(node.properties).join(', ')}`})`;
        }
      } else node = next as typeof node;
    } else if (types.includes('object') && node.additionalProperties && typeof node.additionalProperties === 'object') {
      node = node.additionalProperties as typeof node;
    } else if (types.length && !types.includes('object') && !types.includes('array')) {
      return `unknown fact "${[...seen, part].join('.')}": ${seen.join('.')} is a ${types.filter((t) => t !== 'null').join(' or ')}`;
    } else return undefined;
    seen.push(part);
  }
  return undefined;
}

/** Offset in `source` of a Handlebars location (lines 1-based, columns 0-based). */
function locOffset(source: string, loc: hbs.AST.SourceLocation | undefined): number {
  if (!loc) return 0;
  let offset = 0;
  for (let line = 1; line < loc.start.line; line++) {
    const next = source.indexOf('\n', offset);
    if (next < 0) break;
    offset = next + 1;
  }
  return offset + loc.start.column;
}

/** Handlebars' parse errors say "on line N" and point with a caret under the line shown. */
function parseErrorOffset(source: string, err: unknown): number {
  const message = String((err as Error)?.message ?? err);
  const line = Number(/on line (\d+)/.exec(message)?.[1] ?? 1);
  const caret = /\n(-*)\^/.exec(message);
  const shown = /:\n(.*)\n-*\^/.exec(message)?.[1] ?? '';
  if (!caret) return locOffset(source, { start: { line, column: 0 }, end: { line, column: 0 } } as hbs.AST.SourceLocation);
  // the shown line may be the tail of a long line, prefixed with "..."
  const lineStart = locOffset(source, { start: { line, column: 0 }, end: { line, column: 0 } } as hbs.AST.SourceLocation);
  const lineText = source.slice(lineStart).split('\n')[0];
  const skipped = shown.startsWith('...') ? lineText.length - (shown.length - 3) - 3 : 0;
  return lineStart + Math.max(0, caret[1].length + skipped);
}

const FILTER_HELPERS: Record<string, (value: string, args: string[]) => string> = {
  default: (v, a) => `{{default ${v} ${a[0] ?? '""'}}}`,
  d: (v, a) => `{{default ${v} ${a[0] ?? '""'}}}`,
  join: (v, a) => `{{join ${v} ${a[0] ?? '","'}}}`,
  length: (v) => `{{len ${v}}}`,
  count: (v) => `{{len ${v}}}`,
  min: (v) => `{{min ${v}}}`,
  max: (v) => `{{max ${v}}}`,
  to_json: (v) => `{{json ${v}}}`,
  tojson: (v) => `{{json ${v}}}`,
};
const ARITHMETIC: Record<string, string> = { '*': 'mul', '+': 'add', '-': 'sub', '/': 'div' };
const COMPARISON: Record<string, string> = { '==': 'eq', '!=': 'ne', '>=': 'ge', '<=': 'le', '>': 'gt', '<': 'lt' };
const TOKEN = `(?:"[^"]*"|'[^']*'|[\\w.@\\[\\]]+)`;

/** Python literals → Handlebars literals (strings in double quotes). */
const literal = (token: string) => token.replace(/^'(.*)'$/, '"$1"');

/**
 * The Handlebars form of a Jinja habit in a template that did not parse, or undefined. Inside
 * `when:` the form is given without braces, as when takes it.
 */
function jinjaHint(text: string, condition: boolean): string | undefined {
  const wrap = (call: string) => (condition && !text.includes('{{') ? call.slice(2, -2) : call);
  const body = condition && !text.includes('{{') ? text : (/\{\{-?([\s\S]*?)-?\}\}/.exec(text)?.[1] ?? text);
  const filter = new RegExp(`^\\s*(${TOKEN})\\s*\\|\\s*(\\w+)\\s*(?:\\((.*)\\))?\\s*$`).exec(body);
  if (filter) {
    const [, value, name, rawArgs] = filter;
    const args = (rawArgs ?? '').match(/"[^"]*"|'[^']*'|[^,\s]+/g)?.map(literal) ?? [];
    const form = FILTER_HELPERS[name];
    if (form) return `Jinja filters ("| ${name}") are not Handlebars: write ${wrap(form(value, args))}`;
    if (/^(int|float|string|bool)$/.test(name))
      return `Jinja filters ("| ${name}") are not Handlebars: a value that is exactly one {{…}} keeps its type, write ${wrap(`{{${value}}}`)}`;
    return `Jinja filters ("| ${name}") are not Handlebars: call a helper with the value first, e.g. ${wrap(`{{default ${value} 30}}`)}`;
  }
  const binary = new RegExp(`^\\s*(${TOKEN})\\s*(==|!=|>=|<=|>|<|\\*|\\+|-|/)\\s*(${TOKEN})\\s*$`).exec(body);
  if (binary) {
    const [, left, op, right] = binary;
    const helper = COMPARISON[op] ?? ARITHMETIC[op];
    const kind = COMPARISON[op] ? 'comparison' : 'arithmetic';
    return `Handlebars has no operators ("${op}"); ${kind} is a helper: write ${wrap(`{{${helper} ${literal(left)} ${literal(right)}}}`)}`;
  }
  if (/\{%|%\}/.test(text)) return 'Jinja statements ({% … %}) are not Handlebars: use {{#if x}}…{{/if}} and {{#each list}}…{{/each}}';
  return undefined;
}

/** A template that parsed as a call of an unknown helper because it was written infix (`a and b`, `x is defined`). */
function infixHint(name: string | undefined, params: hbs.AST.Expression[], condition: boolean): string | undefined {
  const words = params.map((p) => (isPath(p) ? p.original : undefined));
  const wrap = (call: string) => (condition ? call : `{{${call}}}`);
  if (name && words[0] === 'is' && (words[1] === 'defined' || (words[1] === 'not' && words[2] === 'defined'))) {
    return words[1] === 'not'
      ? `Jinja's "is not defined" is written ${wrap(`not (defined ${name})`)}`
      : `Jinja's "is defined" is written ${wrap(`defined ${name}`)}`;
  }
  if (name && (words[0] === 'and' || words[0] === 'or') && params.length === 2) {
    const right = params[1];
    const shown = isPath(right)
      ? right.original
      : right.type === 'StringLiteral'
        ? JSON.stringify((right as hbs.AST.StringLiteral).value)
        : '…';
    return `"${words[0]}" is a helper that comes first: write ${wrap(`${words[0]} ${name} ${shown}`)}`;
  }
  return undefined;
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
