// Ansible's INI inventory, read into the same shape as a YAML inventory (groups with hosts,
// children and vars), with the line and column of every key so problems point into the INI file.
//
// Ansible's rules, kept: hosts before any section are ungrouped; `[g]` lists hosts, `[g:vars]`
// variables, `[g:children]` child groups; `host:port`; ranges `hv[01:10]`, `db-[a:c]`, `[1:9:2]`;
// `#` and `;` start comments. Values on a host line are Python literals when they parse as one
// (`1` → 1, `True` → true, `'a b'` → "a b", `[1, 2]`) and strings otherwise (`true` stays
// "true"); values in a `:vars` section are always strings. hvtune's connection keys take their
// types from strings later (`port=2222`, `become=true`), as Ansible does when it uses them.

import type { SourcePosition } from '../errors.js';
import { InputError, type InputProblem } from '../errors.js';
import type { Source, SourcePath } from '../source.js';

type Group = {
  hosts?: Record<string, Record<string, unknown> | null>;
  vars?: Record<string, unknown>;
  children?: Record<string, Group | null>;
};

/** True when the text looks like an INI inventory rather than YAML (a section header or host line first). */
export function looksLikeIni(text: string): boolean {
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';') || t === '---') continue;
    if (t.startsWith('[')) return true;
    // `host1` or `host1 key=value`: no YAML mapping colon at the end of the first word
    return !/^[^\s:]+:(\s|$)/.test(t) && !t.startsWith('-') && !t.startsWith('{');
  }
  return false;
}

export function parseIniInventory(text: string, file: string): Source {
  const groups: Record<string, Group> = {};
  const positions = new Map<string, SourcePosition>();
  const problems: InputProblem[] = [];
  const key = (path: SourcePath) => JSON.stringify(path);
  const mark = (path: SourcePath, line: number, column: number) => {
    if (!positions.has(key(path))) positions.set(key(path), { file, line, column });
  };
  const group = (name: string, line: number, column: number): Group => {
    groups[name] ??= {};
    mark([name], line, column);
    return groups[name];
  };

  let section = { name: 'ungrouped', kind: 'hosts' as 'hosts' | 'vars' | 'children' };
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.replace(/\r$/, '');
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) return;
    const column = line.length - line.trimStart().length + 1;
    if (t.startsWith('[')) {
      const m = /^\[([^\]:\s]+)(?::(vars|children|hosts))?\]\s*(?:[#;].*)?$/.exec(t);
      if (!m) {
        problems.push({
          pos: { file, line: lineNo, column },
          message: `expected a section header such as [group], [group:vars] or [group:children], found ${JSON.stringify(t)}`,
        });
        section = { name: '', kind: 'hosts' };
        return;
      }
      section = { name: m[1], kind: (m[2] as typeof section.kind | undefined) ?? 'hosts' };
      group(section.name, lineNo, column + 1);
      return;
    }
    if (section.name === '') return; // under a bad header: already reported
    let words: Word[];
    try {
      words = shellWords(line);
    } catch (err) {
      problems.push({ pos: { file, line: lineNo, column }, message: (err as Error).message });
      return;
    }
    if (words.length === 0) return;
    const g = group(section.name, lineNo, column);
    if (section.kind === 'children') {
      if (words.length > 1)
        problems.push({ pos: { file, line: lineNo, column: words[1].column }, message: 'a [group:children] line names one group' });
      g.children ??= {};
      g.children[words[0].text] ??= null;
      mark([section.name, 'children', words[0].text], lineNo, words[0].column);
      return;
    }
    if (section.kind === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) {
        problems.push({ pos: { file, line: lineNo, column }, message: `expected key=value in [${section.name}:vars]` });
        return;
      }
      const name = line.slice(0, eq).trim();
      // Ansible: the value of a :vars line is the rest of the line, a string (quotes removed)
      const value = connectionValue(name, unquote(line.slice(eq + 1).trim()));
      g.vars ??= {};
      g.vars[name] = value;
      mark([section.name, 'vars', name], lineNo, column);
      return;
    }
    // a host line: NAME[:PORT] [key=value …]
    const [first, ...rest] = words;
    let names: string[];
    let port: number | undefined;
    try {
      ({ names, port } = hostPattern(first.text));
    } catch (err) {
      problems.push({ pos: { file, line: lineNo, column: first.column }, message: (err as Error).message });
      return;
    }
    const vars: Record<string, unknown> = {};
    if (port !== undefined) vars.ansible_port = port;
    for (const w of rest) {
      const eq = w.text.indexOf('=');
      if (eq <= 0) {
        problems.push({
          pos: { file, line: lineNo, column: w.column },
          message: `expected key=value after the host name, found ${JSON.stringify(w.text)}`,
        });
        continue;
      }
      const name = w.text.slice(0, eq);
      vars[name] = connectionValue(name, pythonLiteral(w.text.slice(eq + 1)));
    }
    g.hosts ??= {};
    for (const name of names) {
      // a host listed twice in one group: Ansible merges the variables
      g.hosts[name] = { ...(g.hosts[name] ?? {}), ...vars };
      mark([section.name, 'hosts', name], lineNo, first.column);
      for (const w of rest) {
        const k = w.text.slice(0, Math.max(0, w.text.indexOf('=')));
        if (k) mark([section.name, 'hosts', name, k], lineNo, w.column);
      }
      if (port !== undefined) mark([section.name, 'hosts', name, 'ansible_port'], lineNo, first.column);
    }
  });
  if (problems.length) throw new InputError(problems);

  // children named but never given a section still exist as (empty) groups
  const value: Record<string, Group | null> = {};
  for (const [name, g] of Object.entries(groups)) value[name] = Object.keys(g).length ? g : null;
  // Ansible nests nothing in INI: every group is top level and `:children` links them. The YAML
  // reader walks nesting, so the children's bodies stay empty here and the top-level entry holds them.
  const pos = (path: SourcePath): SourcePosition => {
    for (let n = path.length; n > 0; n--) {
      const p = positions.get(key(path.slice(0, n)));
      if (p) return p;
    }
    return { file, line: 1, column: 1 };
  };
  // an INI value is not templated text hvtune points into: its key's position will do
  return { file, value, pos, textPos: (path) => pos(path) };
}

interface Word {
  text: string;
  column: number;
}

/** Split a host line as Python's shlex does (quotes, backslashes, `#` comments). */
function shellWords(line: string): Word[] {
  const words: Word[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length || line[i] === '#') break;
    const start = i;
    let text = '';
    while (i < line.length && !/\s/.test(line[i])) {
      const c = line[i];
      if (c === '"' || c === "'") {
        const end = line.indexOf(c, i + 1);
        if (end < 0) throw new Error(`unterminated ${c === '"' ? 'double' : 'single'} quote`);
        // keep the quotes: a quoted value is a Python string literal
        text += line.slice(i, end + 1);
        i = end + 1;
      } else if (c === '\\' && i + 1 < line.length) {
        text += line[i + 1];
        i += 2;
      } else {
        text += c;
        i++;
      }
    }
    words.push({ text, column: start + 1 });
  }
  return words;
}

const PORT_KEYS = new Set(['port', 'ansible_port', 'ansible_ssh_port']);
const BOOLEAN_KEYS = new Set(['become', 'ansible_become']);

/** INI values are strings; the connection keys are typed, as Ansible converts them when it uses them. */
function connectionValue(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (PORT_KEYS.has(key) && /^\d+$/.test(value)) return Number(value);
  if (BOOLEAN_KEYS.has(key)) {
    if (/^(yes|true|on|1|y|t)$/i.test(value)) return true;
    if (/^(no|false|off|0|n|f)$/i.test(value)) return false;
  }
  return value;
}

function unquote(s: string): string {
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s.at(-1) === s[0]) return s.slice(1, -1);
  return s;
}

/**
 * What Ansible's `ast.literal_eval` makes of a host-line value: numbers, True/False/None, quoted
 * strings, lists and dicts of those; anything else is the string itself.
 */
export function pythonLiteral(s: string): unknown {
  if (/^[-+]?\d+$/.test(s)) return Number.parseInt(s, 10);
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(s)) return Number.parseFloat(s);
  if (s === 'True') return true;
  if (s === 'False') return false;
  if (s === 'None') return null;
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s.at(-1) === s[0]) return s.slice(1, -1);
  if ((s.startsWith('[') && s.endsWith(']')) || (s.startsWith('{') && s.endsWith('}'))) {
    // Python containers of literals read as JSON once quotes and constants are JSON's
    const json = s
      .replace(/'([^'\\]*)'/g, (_, x: string) => JSON.stringify(x))
      .replace(/\bTrue\b/g, 'true')
      .replace(/\bFalse\b/g, 'false')
      .replace(/\bNone\b/g, 'null');
    try {
      return JSON.parse(json);
    } catch {
      return s;
    }
  }
  return s;
}

/** `hv[01:03].example.com:2222` → the host names and the port. */
export function hostPattern(text: string): { names: string[]; port?: number } {
  let host = text;
  let port: number | undefined;
  const m = /^(.*[^:]):(\d+)$/.exec(text);
  // an IPv6 address has several colons: only `[…]:port` forms or single-colon names carry a port
  if (m && (m[1].split(':').length === 1 || m[1].endsWith(']'))) {
    host = m[1];
    port = Number(m[2]);
  }
  return { names: expandRange(host), port };
}

/** Ansible's host ranges: `[01:10]` (width kept), `[a:f]`, `[1:10:2]`; one range per pattern level. */
function expandRange(pattern: string): string[] {
  const m = /^(.*?)\[([^\]]+)\](.*)$/.exec(pattern);
  if (!m) return [pattern];
  const [, head, range, tail] = m;
  const parts = range.split(':');
  if (parts.length < 2 || parts.length > 3) throw new Error(`host range [${range}]: expected [start:end] or [start:end:step]`);
  const [start, end, stepText] = parts;
  const step = stepText === undefined ? 1 : Number(stepText);
  if (!Number.isInteger(step) || step < 1) throw new Error(`host range [${range}]: the step must be a positive integer`);
  const values: string[] = [];
  if (/^\d+$/.test(start) && /^\d+$/.test(end)) {
    const width = start.length;
    const [from, to] = [Number(start), Number(end)];
    if (from > to) throw new Error(`host range [${range}]: the start is after the end`);
    for (let n = from; n <= to; n += step) values.push(String(n).padStart(width, '0'));
  } else if (/^[a-z]$/.test(start) && /^[a-z]$/.test(end)) {
    for (let c = start.charCodeAt(0); c <= end.charCodeAt(0); c += step) values.push(String.fromCharCode(c));
  } else throw new Error(`host range [${range}]: expected numbers or single lower-case letters`);
  if (values.length > 10_000) throw new Error(`host range [${range}] gives ${values.length} hosts: at most 10000`);
  return values.flatMap((v) => expandRange(`${head}${v}${tail}`));
}
