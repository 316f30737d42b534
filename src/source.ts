// YAML input with source positions, so every problem can name file:line:column.

import { readFileSync, statSync } from 'node:fs';
import { LineCounter, parseDocument, isAlias, isMap, isPair, isScalar, isSeq, visit } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { InputError, type InputProblem, type SourcePosition } from './errors.js';

export type SourcePath = readonly (string | number)[];

/** A parsed YAML file: its plain value and the position of every key in it. */
export interface Source {
  file: string;
  value: unknown;
  /**
   * Position of the key at `path` (of the item, for a list index). For a key that is not there,
   * the position of the nearest ancestor that is, so a "missing key" points at its parent.
   */
  pos(path: SourcePath): SourcePosition;
  /**
   * Position of the character at `offset` in the string at `path` (in the key's text with
   * `key: true`), so a problem inside a template points at it. Where the text cannot be mapped
   * exactly (escapes, folded or block scalars), the start of the value.
   */
  textPos(path: SourcePath, offset: number, opts?: { key?: boolean }): SourcePosition;
}

/** Inputs above this size are refused before parsing (a 31 MB playbook took 85 s and 3.2 GB). */
export const DEFAULT_MAX_INPUT_BYTES = 4 * 1024 * 1024;
/** Aliases a file may expand: enough for any real inventory, too few for an alias bomb. */
const MAX_ALIAS_COUNT = 1000;

/** The size cap on input files: HVTUNE_MAX_INPUT_BYTES (bytes, or with a K/M/G suffix), else 4 MiB. */
export function maxInputBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.HVTUNE_MAX_INPUT_BYTES?.trim();
  if (!raw) return DEFAULT_MAX_INPUT_BYTES;
  const m = /^(\d+)\s*([kmg]i?b?)?$/i.exec(raw);
  if (!m)
    throw new InputError([
      { path: 'HVTUNE_MAX_INPUT_BYTES', message: `expected a size such as 8M or 8388608, got ${JSON.stringify(raw)}` },
    ]);
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').charAt(0).toLowerCase()] ?? 1;
  return Number(m[1]) * unit;
}

export function tooLarge(file: string, bytes: number, cap: number): InputError {
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return new InputError([
    {
      pos: { file, line: 1, column: 1 },
      message: `the file is ${mib(bytes)} (${bytes} bytes): hvtune reads inputs up to ${mib(cap)} (${cap} bytes); set HVTUNE_MAX_INPUT_BYTES to raise the limit`,
    },
  ]);
}

/** Read and parse a YAML file. Throws InputError for an unreadable file or invalid YAML. */
export function loadSource(file: string): Source {
  let text: string;
  try {
    // refused before reading: a huge file costs time and memory before any check could run
    const bytes = statSync(file).size;
    const cap = maxInputBytes();
    if (bytes > cap) throw tooLarge(file, bytes, cap);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new InputError([{ pos: { file, line: 1, column: 1 }, message: `cannot read file: ${reason}` }]);
  }
  return parseSource(text, file);
}

/**
 * Parse YAML text. YAML 1.2 (the core schema): `yes`/`no` are strings, so booleans are
 * `true`/`false`; `<<` merge keys work as in Ansible. Duplicate keys are errors.
 */
export function parseSource(text: string, file: string): Source {
  const cap = maxInputBytes();
  if (text.length > cap || Buffer.byteLength(text) > cap) throw tooLarge(file, Buffer.byteLength(text), cap);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, merge: true });
  const at = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  if (doc.errors.length > 0) {
    const problems: InputProblem[] = doc.errors.map((e) => ({
      pos: at(e.pos[0]),
      message:
        e.code === 'DUPLICATE_KEY'
          ? duplicateKey(doc, text, e.pos[0], at)
          : /Maximum call stack/.test(e.message)
            ? 'nested too deeply to read'
            : e.code === 'MULTIPLE_DOCS'
              ? 'a second YAML document (after ---): a playbook or inventory is one document; put the rest in its own file'
              : e.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, ''),
    }));
    throw new InputError(problems.slice(0, 20));
  }
  const aliases = aliasProblems(doc, at);
  if (aliases.length) throw new InputError(aliases);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const message = (err as Error).message;
    throw new InputError([
      {
        pos: at(0),
        message: /Excessive alias count/.test(message)
          ? `aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT} per anchor): an alias bomb is refused`
          : /Maximum call stack/.test(message)
            ? 'nested too deeply to read'
            : message,
      },
    ]);
  }
  return {
    file,
    value: value ?? null,
    pos: (path) => at(offsetOf(doc, path)),
    textPos: (path, offset, opts = {}) => at(textOffset(doc, text, path, offset, !!opts.key)),
  };
}

/**
 * Aliases that name an anchor they sit inside (`a: &a [*a]`) would make a value that contains
 * itself, on which every later check loops; and an alias to an anchor not set before it.
 */
function aliasProblems(doc: Document, at: (offset: number) => SourcePosition): InputProblem[] {
  const problems: InputProblem[] = [];
  visit(doc, {
    Alias(_key, node, path) {
      const offset = node.range?.[0] ?? 0;
      const target = node.resolve(doc);
      if (!target) problems.push({ pos: at(offset), message: `alias *${node.source} names no anchor set before it` });
      else if (path.includes(target as never))
        problems.push({
          pos: at(offset),
          message: `alias *${node.source} is inside its own anchor &${node.source}: a value cannot contain itself`,
        });
    },
  });
  return problems;
}

/** Offset of character `offset` of the scalar at `path` (its key with `key`), or its start. */
function textOffset(doc: Document, text: string, path: SourcePath, offset: number, key: boolean): number {
  const node = key ? keyNodeAt(doc, path) : nodeAt(doc, path);
  if (!isScalar(node) || !node.range) return key ? offsetOf(doc, path) : (startOf(node) ?? offsetOf(doc, path));
  const start = node.range[0];
  const value = String(node.value);
  const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
  const from = quoted ? start + 1 : start;
  // only when the source holds the text verbatim (no escapes, no folding) is the mapping exact
  return text.slice(from, from + value.length) === value ? from + Math.min(offset, value.length) : start;
}

function nodeAt(doc: Document, path: SourcePath): unknown {
  let node: unknown = doc.contents;
  for (const segment of path) {
    node = resolveAlias(doc, node);
    if (isMap(node)) node = node.items.find((p) => isPair(p) && keyEquals(p.key, segment))?.value;
    else if (isSeq(node) && typeof segment === 'number') node = node.items[segment];
    else return undefined;
  }
  return resolveAlias(doc, node);
}

function keyNodeAt(doc: Document, path: SourcePath): unknown {
  const parent = resolveAlias(doc, nodeAt(doc, path.slice(0, -1)));
  if (!isMap(parent)) return undefined;
  return parent.items.find((p) => isPair(p) && keyEquals(p.key, path[path.length - 1]))?.key;
}

/**
 * The message of a duplicate key at `offset`: the whole key (the parser's error spans only its
 * first character) and where it was first given.
 */
function duplicateKey(doc: Document, text: string, offset: number, at: (offset: number) => SourcePosition): string {
  let message = `duplicate key ${JSON.stringify(text.slice(offset, offset + 1))}`;
  visit(doc, {
    Map(_key, map) {
      const index = map.items.findIndex((p) => startOf(p.key) === offset);
      if (index === -1) return undefined;
      const name = (node: unknown) => (isScalar(node) ? String(node.value) : String(node));
      const key = map.items[index].key;
      const first = map.items.slice(0, index).find((p) => name(p.key) === name(key));
      const firstAt = first ? startOf(first.key) : undefined;
      message =
        `duplicate key ${JSON.stringify(name(key))}` +
        (firstAt === undefined ? '' : ` (first given at line ${at(firstAt).line}, column ${at(firstAt).column})`);
      return visit.BREAK;
    },
  });
  return message;
}

/** Offset of the key at `path`, or of the deepest existing ancestor. */
function offsetOf(doc: Document, path: SourcePath): number {
  let node: unknown = doc.contents;
  let offset = startOf(node) ?? 0;
  for (const segment of path) {
    node = resolveAlias(doc, node);
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyEquals(p.key, segment));
      if (!pair) return offset;
      offset = startOf(pair.key) ?? startOf(pair.value) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) return offset;
      offset = startOf(item) ?? offset;
      node = item;
    } else {
      return offset;
    }
  }
  return offset;
}

function keyEquals(key: unknown, segment: string | number): boolean {
  if (isScalar(key)) return String(key.value) === String(segment);
  return key === segment || String(key) === String(segment);
}

function resolveAlias(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function startOf(node: unknown): number | undefined {
  const range = (node as YamlNode | null)?.range;
  return range ? range[0] : undefined;
}

/**
 * The same parsed file, seen through an include: every position it gives says where the file was
 * included from (`via`, innermost first), so a problem names the include chain that led to it.
 */
export function includedSource(source: Source, via: SourcePosition[]): Source {
  if (!via.length) return source;
  const chained = (pos: SourcePosition): SourcePosition => ({ ...pos, via });
  return {
    file: source.file,
    value: source.value,
    pos: (path) => chained(source.pos(path)),
    textPos: (path, offset, opts) => chained(source.textPos(path, offset, opts)),
  };
}

/** The chain to record for a file included at `site`: that position, then the site's own chain. */
export function includeChain(site: SourcePosition): SourcePosition[] {
  const { via, ...here } = site;
  return [here, ...(via ?? [])];
}

/** `plays[0].tasks[2].sysctl` → a people's path; keys that are not identifiers are quoted. */
export function formatPath(path: SourcePath, root = ''): string {
  let out = root;
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** The value at `path` inside a plain JS value, or undefined. */
export function valueAt(value: unknown, path: SourcePath): unknown {
  let node = value;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}
