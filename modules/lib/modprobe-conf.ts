// modprobe.d files: `options MODULE k=v …` and `blacklist MODULE` lines, how kmod orders the files,
// and module parameter values as the kernel prints them.

/** Directories kmod reads, highest priority first (a file name in /etc shadows the same name below). */
export const MODPROBE_DIRS = ['/etc/modprobe.d', '/run/modprobe.d', '/usr/local/lib/modprobe.d', '/usr/lib/modprobe.d', '/lib/modprobe.d'];
/** Where systemd-modules-load finds modules to load at boot, plus Debian's /etc/modules. */
export const MODULES_LOAD_DIRS = [
  '/etc/modules-load.d',
  '/run/modules-load.d',
  '/usr/local/lib/modules-load.d',
  '/usr/lib/modules-load.d',
  '/lib/modules-load.d',
];

/** Module names are compared as the kernel stores them: `-` becomes `_`. */
export function moduleKey(name: string): string {
  return name.replace(/-/g, '_');
}

/** A parameter value as compared: trimmed; booleans (Y/N as the kernel prints them) as 1/0. */
export function normaliseParam(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  const text = String(value).trim();
  if (/^(y|yes|on|true)$/i.test(text)) return '1';
  if (/^(n|no|off|false)$/i.test(text)) return '0';
  return text;
}

/** Split a config file into logical lines (a trailing backslash continues a line). */
function logicalLines(content: string): string[] {
  return content.replace(/\\\n/g, ' ').split('\n');
}

interface OptionsLine {
  module: string;
  params: [string, string][];
}

/** `options kvm_amd avic=1 nested=0` → module and parameters; null for other lines. */
export function parseOptionsLine(line: string): OptionsLine | null {
  const words = line.replace(/#.*/, '').trim().split(/\s+/);
  if (words[0] !== 'options' || !words[1]) return null;
  const params = words.slice(2).map((w): [string, string] => {
    const i = w.indexOf('=');
    return i === -1 ? [w, ''] : [w.slice(0, i), w.slice(i + 1).replace(/^"(.*)"$/, '$1')];
  });
  return { module: moduleKey(words[1]), params };
}

function isBlacklistLine(line: string, module: string): boolean {
  const words = line.replace(/#.*/, '').trim().split(/\s+/);
  return words[0] === 'blacklist' && moduleKey(words[1] ?? '') === moduleKey(module);
}

/** The files kmod reads, in its order: by file name, a name in a higher directory shadowing lower ones. */
export function configOrder(files: Record<string, string>, dirs = MODPROBE_DIRS): string[] {
  const byName = new Map<string, string>();
  for (const dir of [...dirs].reverse()) {
    for (const path of Object.keys(files)) {
      if (path.startsWith(`${dir}/`) && path.endsWith('.conf')) byName.set(path.slice(dir.length + 1), path);
    }
  }
  return [...byName.keys()].sort().map((name) => byName.get(name)!);
}

/**
 * The options a module gets at load time: kmod passes every `options` line in config order and the
 * kernel keeps the last value of a parameter. param → { value, file }.
 */
export function effectiveOptions(files: Record<string, string>, module: string): Map<string, { value: string; file: string }> {
  const result = new Map<string, { value: string; file: string }>();
  for (const file of configOrder(files)) {
    for (const line of logicalLines(files[file])) {
      const parsed = parseOptionsLine(line);
      if (parsed?.module !== moduleKey(module)) continue;
      for (const [param, value] of parsed.params) result.set(param, { value, file });
    }
  }
  return result;
}

/** Files (in kmod's order) that blacklist the module. */
export function blacklistingFiles(files: Record<string, string>, module: string): string[] {
  return configOrder(files).filter((file) => logicalLines(files[file]).some((l) => isBlacklistLine(l, module)));
}

/** Is the module listed in a modules-load.d file (or /etc/modules)? */
export function loadedAtBoot(files: Record<string, string>, module: string): string[] {
  const listing = (content: string) =>
    content.split('\n').some(
      (l) =>
        moduleKey(
          l
            .replace(/[#;].*/, '')
            .trim()
            .split(/\s+/)[0] ?? '',
        ) === moduleKey(module),
    );
  return [...configOrder(files, MODULES_LOAD_DIRS), ...('/etc/modules' in files ? ['/etc/modules'] : [])].filter(
    (f) => files[f] !== undefined && listing(files[f]),
  );
}

export interface ModprobeFileEdit {
  module: string;
  /** Parameters to set (others on the module's lines are kept). */
  options?: Record<string, string>;
  state: 'present' | 'absent' | 'blacklisted';
}

/**
 * Edit one modprobe.d file, keeping every line that is not about the module byte for byte.
 * present: one `options` line carrying the merged parameters, where the first one was.
 * blacklisted: a `blacklist` line. absent: no line about the module.
 * Returns null when nothing but comments would remain in a file hvtune created.
 */
export function editModprobeFile(
  content: string | null,
  edit: ModprobeFileEdit,
  header = `${MANAGED} (modprobe): ${edit.module}`,
): string | null {
  const lines = content === null ? [] : content.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const key = moduleKey(edit.module);
  const ours = (l: string) => parseOptionsLine(l)?.module === key;
  const merged = new Map<string, string>();
  for (const l of lines) if (ours(l)) for (const [p, v] of parseOptionsLine(l)!.params) merged.set(p, v);
  for (const [p, v] of Object.entries(edit.options ?? {})) merged.set(p, v);

  let out: string[];
  const existing = lines.filter(ours);
  const satisfied =
    existing.length === 1 &&
    Object.entries(edit.options ?? {}).every(([p, v]) => {
      const have = parseOptionsLine(existing[0])!.params.find(([q]) => q === p);
      return have !== undefined && normaliseParam(have[1]) === normaliseParam(v);
    });
  if (edit.state === 'present' && edit.options && !satisfied) {
    const line = `options ${edit.module} ${[...merged].map(([p, v]) => (v === '' ? p : `${p}=${v}`)).join(' ')}`;
    const first = lines.findIndex(ours);
    out = first === -1 ? [...lines, line] : lines.flatMap((l, i) => (i === first ? [line] : ours(l) ? [] : [l]));
  } else if (edit.state === 'blacklisted') {
    out = lines.some((l) => isBlacklistLine(l, key)) ? lines : [...lines, `blacklist ${edit.module}`];
  } else if (edit.state === 'absent') {
    out = lines.filter((l) => !ours(l) && !isBlacklistLine(l, key));
  } else {
    out = lines;
  }
  if (content !== null && out.join('\n') === lines.join('\n')) return content;
  const meaningful = out.some((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (!meaningful && (content === null || content.startsWith(MANAGED))) return null;
  if (content === null) out.unshift(header);
  return out.join('\n') + '\n';
}

/** First words of every file hvtune creates: such a file may be removed when it holds nothing else. */
export const MANAGED = '# Managed by hvtune';
