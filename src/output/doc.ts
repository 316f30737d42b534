// The text of `hvtune modules` and `hvtune doc MODULE`: the schema is the documentation.

import type { Module } from '../module.js';
import { HvtuneError } from '../errors.js';
import { closestMatches } from '../schema.js';

interface SchemaNode {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: boolean | SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  minimum?: number;
  maximum?: number;
  'x-message'?: string;
}

export function modulesText(modules: ReadonlyMap<string, Module>): string {
  const names = [...modules.keys()].sort();
  const width = Math.max(...names.map((n) => n.length));
  return names.map((n) => `${n.padEnd(width)}  ${modules.get(n)!.description}`).join('\n');
}

export function docText(modules: ReadonlyMap<string, Module>, name: string): string {
  const mod = modules.get(name);
  if (!mod) {
    const close = closestMatches(name, modules.keys());
    throw new HvtuneError(`no module named "${name}"${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}; see hvtune modules`);
  }
  const lines = [`${mod.name}: ${mod.description}`, '', 'OPTIONS (= is required)', ''];
  describe(mod.schema as SchemaNode, '', 1, lines);
  return lines.join('\n').trimEnd();
}

function typeOf(node: SchemaNode): string {
  if (node.enum) return node.enum.map((v) => JSON.stringify(v)).join(' | ');
  const alts = node.anyOf ?? node.oneOf;
  if (alts) return alts.map(typeOf).join(' or ');
  const t = Array.isArray(node.type) ? node.type.join(' | ') : (node.type ?? 'any');
  if (t === 'array' && node.items) return `list of ${typeOf(node.items)}`;
  if (t === 'object' && node.additionalProperties && typeof node.additionalProperties === 'object' && !node.properties) {
    return `map of ${typeOf(node.additionalProperties)}`;
  }
  return t;
}

function describe(node: SchemaNode, prefix: string, depth: number, lines: string[]): void {
  const required = new Set(node.required ?? []);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const pad = '  '.repeat(depth);
    const mark = required.has(key) ? '=' : '-';
    lines.push(`${pad}${mark} ${prefix}${key}  (${typeOf(child)})`);
    if (child.description) lines.push(`${pad}    ${child.description}`);
    const facts = [
      child.default !== undefined ? `default: ${JSON.stringify(child.default)}` : '',
      child.minimum !== undefined ? `minimum: ${child.minimum}` : '',
      child.maximum !== undefined ? `maximum: ${child.maximum}` : '',
    ].filter(Boolean);
    if (facts.length) lines.push(`${pad}    ${facts.join(', ')}`);
    if (child.properties) describe(child, '', depth + 1, lines);
    else if (child.items?.properties) describe(child.items, '', depth + 1, lines);
  }
}
