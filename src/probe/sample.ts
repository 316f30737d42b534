// Probing one host: a sample, the interval, a second sample — one round trip each — and the rates.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Facts } from '../facts.js';
import type { HostHandle } from '../module.js';
import { parseSample } from './parse.js';
import { probeRates } from './rates.js';
import { probeScript } from './script.js';
import type { HostProbe } from './types.js';

/** The sampler may take this long on a big host before it counts as hung. */
const SAMPLE_TIMEOUT_MS = 30_000;

export async function probeHost(host: Pick<HostHandle, 'exec'>, facts: Facts, intervalSeconds: number): Promise<HostProbe> {
  const irqs = (facts.nics ?? []).flatMap((n) => (n.irq ?? []).map((q) => q.irq));
  const [major, minor] = facts.kernel.version;
  const script = probeScript(irqs, { vhostKernelThreads: major < 6 || (major === 6 && minor < 4) });
  const take = async () => {
    const r = await host.exec(['sh', '-c', script], { timeoutMs: SAMPLE_TIMEOUT_MS });
    if (r.code !== 0) throw new Error(`the probe's sampler exited ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
    return parseSample(r.stdout, irqs);
  };
  const first = await take();
  await sleep(intervalSeconds * 1000);
  const second = await take();
  return probeRates(first, second, facts, intervalSeconds);
}
