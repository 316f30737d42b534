// Splits the gatherer's output into sections and the `path:line` file dump into a map. Defensive:
// junk before the first section, unknown sections, lines without a path — all are skipped.

import { SECTION_MARK } from './script.js';

export interface Section {
  name: string;
  arg: string;
  lines: string[];
}

export interface RawFacts {
  /** File path → its lines, from the `files` dump. */
  files: Map<string, string[]>;
  sections: Section[];
}

export function splitSections(stdout: string): Section[] {
  const sections: Section[] = [];
  let current: Section | null = null;
  for (const line of stdout.replace(/\r\n/g, '\n').split('\n')) {
    if (line.startsWith(SECTION_MARK)) {
      const head = line.slice(SECTION_MARK.length).trim();
      const space = head.indexOf(' ');
      current = {
        name: space < 0 ? head : head.slice(0, space),
        arg: space < 0 ? '' : head.slice(space + 1).trim(),
        lines: [],
      };
      sections.push(current);
    } else if (current) {
      current.lines.push(line);
    }
  }
  // The last line of a section before the next mark is the empty string after a final newline.
  for (const s of sections) while (s.lines.length && s.lines[s.lines.length - 1] === '') s.lines.pop();
  return sections;
}

/** `grep -H` output → path → lines. Paths are absolute and have no ':' (sysfs/proc names). */
export function parsePathLines(lines: readonly string[]): Map<string, string[]> {
  const files = new Map<string, string[]>();
  for (const line of lines) {
    if (!line.startsWith('/')) continue;
    const i = line.indexOf(':');
    if (i < 0) continue;
    const path = line.slice(0, i);
    const list = files.get(path);
    if (list) list.push(line.slice(i + 1));
    else files.set(path, [line.slice(i + 1)]);
  }
  return files;
}

export function parseRaw(stdout: string): RawFacts {
  const sections = splitSections(stdout);
  const files = new Map<string, string[]>();
  for (const s of sections) {
    if (s.name !== 'files') continue;
    for (const [path, lines] of parsePathLines(s.lines)) files.set(path, [...(files.get(path) ?? []), ...lines]);
  }
  return { files, sections };
}

export function sectionLines(raw: RawFacts, name: string, arg?: string): string[] | undefined {
  return raw.sections.find((s) => s.name === name && (arg === undefined || s.arg === arg))?.lines;
}

/** First line of a file, trimmed; undefined when absent. */
export function fileText(raw: RawFacts, path: string): string | undefined {
  const lines = raw.files.get(path);
  return lines === undefined ? undefined : (lines[0] ?? '').trim();
}

/** A whole number, or null for absent/junk/negative sentinel text. */
export function toInt(text: string | undefined | null): number | null {
  if (text == null) return null;
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : null;
}

/** Entries under a glob-like prefix: files whose path matches `re`, with the captures. */
export function matchFiles(raw: RawFacts, re: RegExp): { m: RegExpExecArray; lines: string[] }[] {
  const out: { m: RegExpExecArray; lines: string[] }[] = [];
  for (const [path, lines] of raw.files) {
    const m = re.exec(path);
    if (m) out.push({ m, lines });
  }
  return out;
}
