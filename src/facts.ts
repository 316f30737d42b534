// Facts gathered from a host in one round trip (FACTS_SCRIPT, one POSIX sh script). Templates
// and modules read them; `hvtune facts` prints them; `--facts FILE` loads saved ones instead.
// The parsers live in src/facts/ by topic; this file assembles them.

import { parseCpu } from './facts/cpu.js';
import { parseDaemons } from './facts/daemons.js';
import { parseMemory } from './facts/memory.js';
import { parseNics } from './facts/nics.js';
import { nodeOfCpu, parseNuma } from './facts/numa.js';
import { parseCpuListOrEmpty } from './facts/cpulist.js';
import { fileText, parseRaw, sectionLines } from './facts/sections.js';
import { parseBoot, parseCommands, parseEthtoolPersistence, parseExists, parseInit, parseOsRelease } from './facts/system.js';
import { parseDomstats, parseVirt } from './facts/virt.js';
import type { Facts } from './facts/types.js';

export type * from './facts/types.js';
export { FACTS_SCRIPT } from './facts/script.js';

/** Parse "6.1.0-18-amd64" → [6, 1, 0]. */
export function parseKernelVersion(release: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
}

export function kernelAtLeast(facts: Facts, major: number, minor: number): boolean {
  const [a, b] = facts.kernel.version;
  return a > major || (a === major && b >= minor);
}

/** The gatherer's stdout → Facts. Never throws: what cannot be read is absent or null. */
export function parseFacts(stdout: string): Facts {
  const raw = parseRaw(stdout);
  const release = fileText(raw, '/proc/sys/kernel/osrelease') ?? '';
  const commands = parseCommands(raw);
  const exists = parseExists(raw);
  const numa = parseNuma(raw, parseCpuListOrEmpty(fileText(raw, '/sys/devices/system/cpu/online')));
  const cpu = parseCpu(raw, nodeOfCpu(numa));
  const init = parseInit(fileText(raw, '/proc/1/comm'), exists);
  const facts: Facts = {
    hostname: fileText(raw, '/proc/sys/kernel/hostname') ?? '',
    kernel: { release, version: parseKernelVersion(release), build: fileText(raw, '/proc/sys/kernel/version') ?? '' },
    distribution: parseOsRelease(raw.files.get('/etc/os-release') ?? raw.files.get('/usr/lib/os-release') ?? []),
    cpu,
    numa,
    nics: parseNics(raw),
    memory: parseMemory(raw),
    cmdline: fileText(raw, '/proc/cmdline') ?? '',
    boot: parseBoot(raw, commands, exists),
    init,
    ethtoolPersistence: parseEthtoolPersistence(init, commands, exists),
    virt: parseVirt(raw, commands, exists, cpu.features.hypervisor),
    domains: parseDomstats(sectionLines(raw, 'domstats')),
    commands: [...commands].sort(),
  };
  const daemons = parseDaemons(raw);
  if (daemons) facts.daemons = daemons;
  if (facts.distribution === undefined) delete facts.distribution;
  return facts;
}
