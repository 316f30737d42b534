// `hvtune probe --compare BEFORE AFTER`: the differences that matter between two probe reports,
// each with a verdict. Every figure weighed here is lower-is-better (drops, squeezes, remote
// memory, IRQs on vCPU cores, vCPUs off their pin); a change smaller than the noise is "same".

import type { CompareLine, HostProbe, ProbeReport, Verdict } from './types.js';
import { DROP_COUNTER } from './rates.js';

/** Changes below this much (absolute, in the figure's own unit) or 5% of the larger value are noise. */
const NOISE_ABSOLUTE = 0.05;
const NOISE_RELATIVE = 0.05;

export function verdictOf(before: number | null, after: number | null): Verdict {
  if (before === null || after === null) return 'same';
  const delta = after - before;
  if (Math.abs(delta) <= Math.max(NOISE_ABSOLUTE, NOISE_RELATIVE * Math.max(Math.abs(before), Math.abs(after)))) return 'same';
  return delta < 0 ? 'better' : 'worse';
}

/** The figures of one host, by name; null where the host could not say. */
function figures(p: HostProbe): Map<string, number | null> {
  const f = new Map<string, number | null>();
  f.set('softnet dropped/s', p.summary.softnetDropped);
  f.set('softnet time_squeeze/s', p.summary.timeSqueeze);
  for (const [nic, c] of Object.entries(p.nics)) {
    for (const [k, v] of Object.entries(c.statistics)) if (DROP_COUNTER.test(k)) f.set(`${nic} ${k}/s`, v);
    for (const [k, v] of Object.entries(c.ethtool)) f.set(`${nic} ethtool ${k}/s`, v);
  }
  for (const [k, v] of Object.entries(p.udp ?? {})) if (/Errors$/.test(k)) f.set(`udp ${k}/s`, v);
  for (const [k, v] of Object.entries(p.tcp ?? {})) f.set(`tcp ${k}/s`, v);
  f.set('NIC IRQs on vCPU cores/s', p.summary.irqsOnVcpuCpus);
  f.set('vCPUs off their pin', p.summary.vcpusOffPin);
  for (const d of p.domains ?? []) {
    f.set(`domain ${d.name} remote memory %`, d.memory?.remotePercent ?? null);
    f.set(`domain ${d.name} vCPUs off their pin`, d.vcpus ? d.vcpus.filter((v) => v.offPin).length : null);
  }
  return f;
}

/**
 * Every figure that changed beyond noise, host by host in the AFTER report's order (hosts only in
 * one report are named by `missing`). With `all`, the unchanged figures too.
 */
export function compareProbes(
  before: ProbeReport,
  after: ProbeReport,
  opts: { all?: boolean } = {},
): { lines: CompareLine[]; missing: string[] } {
  const lines: CompareLine[] = [];
  const missing: string[] = [];
  const hosts = [...new Set([...Object.keys(after.hosts), ...Object.keys(before.hosts)])];
  for (const host of hosts) {
    const a = before.hosts[host];
    const b = after.hosts[host];
    if (!a || !b) {
      missing.push(host);
      continue;
    }
    const fa = figures(a);
    const fb = figures(b);
    for (const what of [...new Set([...fa.keys(), ...fb.keys()])]) {
      const x = fa.get(what) ?? null;
      const y = fb.get(what) ?? null;
      if (x === null && y === null) continue;
      // A counter seen on one side only (a NIC added) is compared against zero.
      const verdict = verdictOf(x ?? 0, y ?? 0);
      if (verdict !== 'same' || opts.all) lines.push({ host, what, before: x, after: y, verdict });
    }
  }
  return { lines, missing };
}
