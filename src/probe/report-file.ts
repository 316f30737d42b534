// Reading a saved probe report (`hvtune probe -o FILE`, or its --json output) for --compare: a
// file that is not one is named with what was expected, and where JSON breaks, its line:column.

import { readFileSync } from 'node:fs';
import { HvtuneError } from '../errors.js';
import type { ProbeReport } from './types.js';

/** "Unexpected token } in JSON at position 42" → line:column of position 42 in text. */
function positionOf(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (!m) return '';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  return `:${line}:${Number(m[1]) - before.lastIndexOf('\n')}`;
}

export function loadProbeReport(path: string): ProbeReport {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HvtuneError(`${path}: cannot read the probe report: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    throw new HvtuneError(`${path}${positionOf(text, message)}: not JSON: ${message}`);
  }
  const report = data as Partial<ProbeReport> | null;
  if (!report || typeof report !== 'object' || report.format !== 'hvtune-probe')
    throw new HvtuneError(
      `${path}: not a probe report (expected a JSON object with "format": "hvtune-probe", as \`hvtune probe -o FILE\` writes)`,
    );
  if (report.version !== 1) throw new HvtuneError(`${path}: probe report version ${JSON.stringify(report.version)} (expected 1)`);
  if (!report.hosts || typeof report.hosts !== 'object' || Array.isArray(report.hosts))
    throw new HvtuneError(`${path}: "hosts" must be an object of host name → probe`);
  for (const [host, p] of Object.entries(report.hosts))
    if (!p || typeof p !== 'object' || !p.summary || typeof p.nics !== 'object')
      throw new HvtuneError(`${path}: host ${JSON.stringify(host)} has no probe (expected "summary" and "nics")`);
  return report as ProbeReport;
}
