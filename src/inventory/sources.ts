// What `-i` names, read as Ansible reads it: a file (YAML or INI), a directory (every inventory
// file in it, in name order), or a comma-separated host list (`-i hv1,hv2,`); and the
// `group_vars/` and `host_vars/` directories beside each inventory source and beside the playbook.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { maxInputBytes, parseSource, tooLarge, type Source } from '../source.js';
import { looksLikeIni, parseIniInventory } from './ini.js';

/** Files a directory inventory skips, as Ansible's `inventory_ignore_extensions` does by default. */
const IGNORED_EXTENSIONS = ['.orig', '.ini', '.cfg', '.retry', '.pyc', '.pyo', '.bak', '.swp', '.md', '.txt', '.rst'];
const VARS_EXTENSIONS = ['', '.yml', '.yaml', '.json'];

export interface VarsFile {
  kind: 'group' | 'host';
  /** The group or host the file is for. */
  name: string;
  /** Beside an inventory source, or beside the playbook (higher precedence, as in Ansible). */
  origin: 'inventory' | 'playbook';
  source: Source;
}

export interface InventorySources {
  /** Where `-i` pointed, as given (records and messages name it). */
  given: string[];
  sources: Source[];
  varsFiles: VarsFile[];
  /** Every file read, for hashing inputs (saved plans, run records). */
  files: string[];
}

const isHostList = (arg: string) => arg.includes(',') && !exists(arg);

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readText(file: string): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
    throw new InputError([{ pos: { file, line: 1, column: 1 }, message: `cannot read the inventory: ${reason}` }]);
  }
  // refused before reading, as every input (HVTUNE_MAX_INPUT_BYTES)
  const cap = maxInputBytes();
  if (size > cap) throw tooLarge(file, size, cap);
  return readFileSync(file, 'utf8');
}

/** One inventory file: `.ini` or INI-looking text as INI, the rest as YAML (JSON is YAML). */
export function inventoryFileSource(file: string): Source {
  const text = readText(file);
  const ext = extname(file).toLowerCase();
  if (ext === '.ini' || (!['.yml', '.yaml', '.json'].includes(ext) && looksLikeIni(text))) return parseIniInventory(text, file);
  return parseSource(text, file);
}

/** `hv1,hv2,` → an inventory with those hosts in `ungrouped`. */
function hostListSource(arg: string): Source {
  const names = arg
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const hosts: Record<string, null> = {};
  for (const n of names) hosts[n] = null;
  const at = () => ({ file: `-i ${arg}`, line: 1, column: 1 });
  return { file: `-i ${arg}`, value: { ungrouped: { hosts } }, pos: at, textPos: at };
}

function directoryFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.') && !e.name.endsWith('~'))
    .filter((e) => !['group_vars', 'host_vars'].includes(e.name))
    .filter((e) => e.isFile() || e.isDirectory())
    .filter((e) => e.isDirectory() || !IGNORED_EXTENSIONS.includes(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? directoryFiles(path) : [path];
    });
}

/** The variable files of one `group_vars/` or `host_vars/` directory: NAME[.yml|.yaml|.json] or NAME/ of files. */
function varsFilesIn(dir: string, kind: VarsFile['kind'], origin: VarsFile['origin']): VarsFile[] {
  if (!exists(dir) || !statSync(dir).isDirectory()) return [];
  const out: VarsFile[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || entry.name.endsWith('~')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      for (const f of readdirSync(path).sort()) {
        if (f.startsWith('.') || !VARS_EXTENSIONS.includes(extname(f).toLowerCase())) continue;
        out.push({ kind, name: entry.name, origin, source: parseSource(readText(join(path, f)), join(path, f)) });
      }
      continue;
    }
    const ext = extname(entry.name).toLowerCase();
    if (!VARS_EXTENSIONS.includes(ext)) continue;
    out.push({ kind, name: basename(entry.name, extname(entry.name)), origin, source: parseSource(readText(path), path) });
  }
  return out;
}

/** Read every `-i` argument and the variable directories beside them and beside the playbook. */
export function readInventorySources(args: string[], opts: { playbookDir?: string } = {}): InventorySources {
  const sources: Source[] = [];
  const varsDirs: { dir: string; origin: VarsFile['origin'] }[] = [];
  const problems: InputError[] = [];
  for (const arg of args) {
    try {
      if (isHostList(arg)) {
        sources.push(hostListSource(arg));
        continue;
      }
      const isDir = exists(arg) && statSync(arg).isDirectory();
      const files = isDir ? directoryFiles(arg) : [arg];
      if (isDir && files.length === 0) {
        throw new InputError([{ pos: { file: arg, line: 1, column: 1 }, message: 'the inventory directory holds no inventory file' }]);
      }
      for (const f of files) {
        try {
          sources.push(inventoryFileSource(f));
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          problems.push(err);
        }
      }
      varsDirs.push({ dir: isDir ? arg : dirname(arg), origin: 'inventory' });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push(err);
    }
  }
  if (opts.playbookDir) varsDirs.push({ dir: opts.playbookDir, origin: 'playbook' });
  const seen = new Set<string>();
  const varsFiles: VarsFile[] = [];
  for (const { dir, origin } of varsDirs) {
    const key = resolve(dir);
    // the playbook beside the inventory: the same files, read once (their values are the same)
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      varsFiles.push(...varsFilesIn(join(dir, 'group_vars'), 'group', origin), ...varsFilesIn(join(dir, 'host_vars'), 'host', origin));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push(err);
    }
  }
  if (problems.length) throw new InputError(problems.flatMap((e) => e.problems));
  return {
    given: args,
    sources,
    varsFiles,
    files: [...sources.map((s) => s.file).filter((f) => !f.startsWith('-i ')), ...varsFiles.map((v) => v.source.file)],
  };
}
