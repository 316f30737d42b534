// `hvtune facts -i INV [--limit H] [--json] [--save FILE]`: gather facts from hosts and print
// them, or save them for `--facts FILE` (offline planning for a machine one cannot reach, and
// repeatable topology tests). The CLI resolves the inventory and passes a connector.

import { readFile, writeFile } from 'node:fs/promises';
import { HvtuneError } from '../errors.js';
import { parseKernelVersion, type Facts } from '../facts.js';
import { formatCpuList } from '../facts/cpulist.js';
import { selectHosts, type Inventory, type InventoryHost } from '../inventory.js';

/** What a connection must offer: facts gathered on connect (connectHost does), and close. */
export interface FactsSource {
  readonly facts: Facts;
  close(): Promise<void>;
}

export interface FactsCommandOptions {
  inventory: Inventory;
  limit?: string;
  connect: (host: InventoryHost) => Promise<FactsSource>;
  json?: boolean;
  save?: string;
  forks?: number;
  out: (text: string) => void;
  err?: (text: string) => void;
}

/** The saved-facts file: `hosts` is what `--facts FILE` reads. */
export interface SavedFacts {
  format: 'hvtune-facts';
  version: 1;
  gathered: string;
  hosts: Record<string, Facts>;
}

export interface FactsCommandResult {
  code: number;
  hosts: Record<string, Facts>;
  failures: Record<string, string>;
}

export async function factsCommand(o: FactsCommandOptions): Promise<FactsCommandResult> {
  const names = o.limit ? selectHosts(o.inventory, o.limit) : [...o.inventory.hosts.keys()];
  if (names.length === 0) throw new HvtuneError(`no host of ${o.inventory.file} matches ${JSON.stringify(o.limit ?? 'all')}`);
  const hosts: Record<string, Facts> = {};
  const failures: Record<string, string> = {};
  const queue = [...names];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      try {
        const conn = await o.connect(o.inventory.hosts.get(name)!);
        try {
          hosts[name] = conn.facts;
        } finally {
          await conn.close();
        }
      } catch (err) {
        failures[name] = err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.forks ?? 20, names.length)) }, worker));
  // Inventory order, whatever order the hosts answered in.
  const ordered = Object.fromEntries(names.filter((n) => hosts[n]).map((n) => [n, hosts[n]]));
  if (o.save) {
    const saved: SavedFacts = { format: 'hvtune-facts', version: 1, gathered: new Date().toISOString(), hosts: ordered };
    await writeFile(o.save, JSON.stringify(saved, null, 2) + '\n');
  }
  if (o.json) o.out(JSON.stringify({ hosts: ordered, failures }, null, 2));
  else {
    for (const name of names) {
      if (ordered[name]) o.out(formatFacts(name, ordered[name]));
      else (o.err ?? o.out)(`${name}: UNREACHABLE: ${failures[name]}`);
    }
  }
  return { code: Object.keys(failures).length ? 1 : 0, hosts: ordered, failures };
}

const gib = (kib: number | null | undefined) => (kib == null ? '?' : `${(kib / 1048576).toFixed(1)} GiB`);
const sizeName = (kib: number) => (kib >= 1048576 ? `${kib / 1048576}G` : kib >= 1024 ? `${kib / 1024}M` : `${kib}K`);

/** The human summary of one host's facts (the JSON has everything). */
export function formatFacts(name: string, f: Facts): string {
  const lines = [`${name}: ${f.hostname} · ${f.distribution?.name || f.distribution?.id || 'unknown distribution'} · kernel ${f.kernel.release}`];
  const row = (label: string, text: string) => lines.push(`  ${label.padEnd(9)}${text}`);
  if (f.cpu) {
    const c = f.cpu;
    const feats = Object.entries(c.features).filter(([, on]) => on).map(([k]) => k).join(' ');
    row('cpu', `${c.model || c.vendor || 'unknown'} · ${c.sockets} socket(s) × ${c.coresPerSocket} cores × ${c.threadsPerCore} thread(s), HT ${c.hyperThreading ? 'on' : 'off'} · online ${formatCpuList(c.online)}`);
    if (feats) row('', feats);
  }
  for (const n of f.numa?.nodes ?? []) row(`node${n.id}`, `cpus ${formatCpuList(n.cpus)} · memory ${gib(n.memTotalKiB)} (free ${gib(n.memFreeKiB)})`);
  for (const n of f.nics ?? []) {
    if (n.name === 'lo') continue;
    const parts = [n.driver ?? 'virtual', n.pci, n.mac, n.numaNode !== null ? `node ${n.numaNode}` : null, n.speedMbps ? `${n.speedMbps}Mb/s` : null, `mtu ${n.mtu}`, n.operstate, `queues rx ${n.rxQueues} tx ${n.txQueues}`];
    if (n.channels?.maxCombined != null) parts.push(`channels ${n.channels.combined}/${n.channels.maxCombined}`);
    if (n.ring?.rxMax != null) parts.push(`ring ${n.ring.rx}/${n.ring.rxMax}`);
    row(`nic`, `${n.name}: ${parts.filter(Boolean).join(' · ')}`);
  }
  if (f.memory) {
    const m = f.memory;
    const pools = m.hugepages.pools.map((p) => `${sizeName(p.sizeKiB)} ${p.total}${p.free !== null ? ` (free ${p.free})` : ''}`).join(', ');
    row('memory', `${gib(m.totalKiB)} · hugepages ${pools || 'none'} · THP ${m.thp ? `${m.thp.enabled}/${m.thp.defrag}` : 'absent'} · KSM ${m.ksmRun === null ? 'absent' : m.ksmRun === 1 ? 'on' : 'off'}`);
  }
  if (f.boot) row('boot', `${f.boot.tool}${f.boot.grubConfig ? ` → ${f.boot.grubConfig}` : ''} · ${f.boot.firmware}${f.boot.bls ? ' · BLS' : ''}`);
  if (f.cmdline !== undefined) row('cmdline', f.cmdline || '(empty)');
  if (f.init) row('init', `${f.init.system} (pid 1: ${f.init.pid1 || '?'}) · ethtool persistence: ${f.ethtoolPersistence?.join(', ') || 'none'}`);
  if (f.virt) row('role', `${f.virt.roles.join(', ')}${f.virt.hypervisor ? ` (hypervisor: ${f.virt.hypervisor})` : ''}`);
  if (f.domains) {
    if (!f.domains.length) row('domains', 'none');
    for (const d of f.domains) row('domain', `${d.name}: ${d.state} · ${d.vcpus ?? '?'} vCPU · ${gib(d.memoryKiB)}`);
  } else if (f.virt?.kvm.virsh) row('domains', 'libvirt did not answer');
  return lines.join('\n');
}

/**
 * Facts saved by `hvtune facts --save` (or `--json` output, or a bare host → facts map) for
 * `--facts FILE`. Checks the shape a plan relies on and says which host and key are wrong.
 */
export async function loadFactsFile(path: string): Promise<Record<string, Facts>> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new HvtuneError(`${path}: cannot read saved facts: ${(err as Error).message}`);
  }
  return validateSavedFacts(data, path);
}

export function validateSavedFacts(data: unknown, path: string): Record<string, Facts> {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(data)) throw new HvtuneError(`${path}: expected a JSON object of saved facts ({"hosts": {NAME: facts}})`);
  const hosts = isObject(data.hosts) ? data.hosts : data;
  const out: Record<string, Facts> = {};
  for (const [name, f] of Object.entries(hosts)) {
    if (name === 'format' || name === 'version' || name === 'gathered' || name === 'failures') continue;
    const where = `${path}: host ${JSON.stringify(name)}`;
    if (!isObject(f)) throw new HvtuneError(`${where}: expected an object of facts`);
    if (typeof f.hostname !== 'string') throw new HvtuneError(`${where}: "hostname" must be a string`);
    const kernel = f.kernel;
    if (!isObject(kernel) || typeof kernel.release !== 'string') throw new HvtuneError(`${where}: "kernel.release" must be a string`);
    for (const key of ['cpu', 'numa', 'memory', 'boot', 'virt'] as const) {
      if (f[key] !== undefined && !isObject(f[key])) throw new HvtuneError(`${where}: "${key}" must be an object`);
    }
    if (f.nics !== undefined && !Array.isArray(f.nics)) throw new HvtuneError(`${where}: "nics" must be a list`);
    if (isObject(f.numa) && !Array.isArray(f.numa.nodes)) throw new HvtuneError(`${where}: "numa.nodes" must be a list`);
    // A hand-written file may give only the release: derive the version as gathering would.
    const version = Array.isArray(kernel.version) && kernel.version.length === 3 ? (kernel.version as [number, number, number]) : parseKernelVersion(kernel.release);
    out[name] = { ...(f as Facts), kernel: { ...kernel, release: kernel.release, version } };
  }
  if (!Object.keys(out).length) throw new HvtuneError(`${path}: no host facts in the file`);
  return out;
}
