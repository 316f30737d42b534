// YAML input with source positions, so every problem can name file:line:column.

import { readFileSync } from 'node:fs';
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
}

/** Read and parse a YAML file. Throws InputError for an unreadable file or invalid YAML. */
export function loadSource(file: string): Source {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
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
        e.code === 'DUPLICATE_KEY' ? duplicateKey(doc, text, e.pos[0], at) : e.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, ''),
    }));
    throw new InputError(problems);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new InputError([{ pos: at(0), message: (err as Error).message }]);
  }
  return {
    file,
    value: value ?? null,
    pos: (path) => at(offsetOf(doc, path)),
  };
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
