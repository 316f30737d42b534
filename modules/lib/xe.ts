// Parsers for the output of XenServer's `xe` CLI: `xe <class>-list params=a,b,c` records and
// `--minimal` lists. Pure.
//
// A params listing prints one record per object, fields right-aligned on the colon, records
// separated by blank lines:
//   uuid ( RO)           : 3f1c…
//        name-label ( RW): vm1
//      other-config (MRW): mtu: 9000; auto_poweron: true

export type XeRecord = Record<string, string>;

const FIELD = /^\s*([A-Za-z0-9_:.-]+) \(\s?[MS]?R[OW]\)\s*: ?(.*)$/;

/** Parse `xe …-list params=…` output into records (field name → raw value text). */
export function parseXeRecords(output: string): XeRecord[] {
  const records: XeRecord[] = [];
  let current: XeRecord | null = null;
  for (const line of output.split('\n')) {
    if (line.trim() === '') {
      current = null;
      continue;
    }
    const m = FIELD.exec(line.replace(/\r$/, ''));
    if (!m) continue; // junk lines (warnings) are not fields
    if (!current) records.push((current = {}));
    current[m[1]] = m[2].trimEnd();
  }
  return records;
}

/** A map field: `key1: value1; key2: value2` (empty text = empty map). */
export function parseXeMap(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined || value.trim() === '' || value.trim() === '<not in database>') return out;
  for (const pair of value.split('; ')) {
    const i = pair.indexOf(': ');
    if (i > 0) out[pair.slice(0, i).trim()] = pair.slice(i + 2).trim();
    else if (pair.trim().endsWith(':')) out[pair.trim().slice(0, -1)] = '';
  }
  return out;
}

/** A set field: `a; b; c`. */
export function parseXeSet(value: string | undefined): string[] {
  if (value === undefined || value.trim() === '') return [];
  return value
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** `--minimal` output: one line, comma-separated (empty line = none). */
export function parseXeMinimal(output: string): string[] {
  const line = output.trim();
  return line === '' ? [] : line.split(',').map((s) => s.trim());
}

/** An integer field; NaN-safe: a missing or non-numeric value is null, never 0 by accident. */
export function parseXeInt(value: string | undefined): number | null {
  if (value === undefined) return null;
  const t = value.trim();
  return /^-?\d+$/.test(t) ? Number(t) : null;
}

export function parseXeBool(value: string | undefined): boolean | null {
  const t = value?.trim();
  return t === 'true' ? true : t === 'false' ? false : null;
}

/** A XenServer MAC, normalised for comparison (lower case, colon-separated). */
export function normaliseMac(mac: string): string {
  return mac.trim().toLowerCase().replace(/-/g, ':');
}

/** Build `key=value` arguments for xe as argv words (the engine quotes them). */
export function xeArgs(params: Record<string, string | number>): string[] {
  return Object.entries(params).map(([k, v]) => `${k}=${v}`);
}
