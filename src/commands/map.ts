// `hvtune map -i INV --limit HOST -o host.svg` (or --facts FILE offline, or --plan PLAN.json for
// the state a saved plan leads to; .html for a page): where vCPUs, emulator threads, NIC queue
// interrupts and the host's own CPUs sit, drawn over sockets → NUMA nodes → cores → threads.

import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { HvtuneError } from '../errors.js';
import type { Facts } from '../facts.js';
import { loadFactsFile } from '../facts/saved.js';
import { parseCpuList } from '../facts/cpulist.js';
import { globMatch } from '../glob.js';
import { selectHosts } from '../inventory.js';
import { type DomainPins, type QueueIrq, buildMap, domainPins, factsQueueIrqs, type HostMap } from '../map/model.js';
import { renderHtml, renderSvg } from '../map/svg.js';
import { readPlan } from '../planfile.js';
import { RESOLVER } from '../../modules/lib/irq-affinity.js';
import {
  INVENTORY_FLAGS,
  INVENTORY_HELP,
  collect,
  hostConnector,
  loadInventory,
  withConnection,
  type ConnectionFlags,
  type Session,
} from './session.js';

interface MapFlags extends ConnectionFlags {
  inventory?: string[];
  limit?: string;
  facts?: string;
  plan?: string;
  output: string;
}

/** One script: every domain's live XML, and every device NIC's queue interrupts with their CPUs. */
const LIVE_SCRIPT = [
  'R=',
  RESOLVER,
  'if command -v virsh >/dev/null 2>&1; then for d in $(timeout 10 virsh list --all --name 2>/dev/null); do echo "@@domain $d"; timeout 10 virsh dumpxml "$d" 2>/dev/null; done; fi',
  'for n in /sys/class/net/*; do [ -e "$n/device" ] || continue; nic=${n##*/}; hv_queue_irqs "$nic" 2>/dev/null | while read -r irq q name; do echo "@@irq $nic $q $(cat /proc/irq/$irq/smp_affinity_list 2>/dev/null)"; done; done',
].join('\n');

export function parseLive(stdout: string): { domains: DomainPins[]; irqs: QueueIrq[] } {
  const domains: DomainPins[] = [];
  const irqs: QueueIrq[] = [];
  let name: string | null = null;
  let xml: string[] = [];
  const flush = () => {
    if (name !== null) domains.push(domainPins(xml.join('\n'), name));
    name = null;
    xml = [];
  };
  for (const line of stdout.split('\n')) {
    if (line.startsWith('@@domain ')) {
      flush();
      name = line.slice(9).trim();
    } else if (line.startsWith('@@irq ')) {
      flush();
      const [nic, queue, cpus] = line.slice(6).trim().split(/\s+/);
      try {
        irqs.push({ nic, queue, cpus: parseCpuList(cpus ?? '') });
      } catch {
        // an unreadable affinity is drawn as nothing rather than guessed
      }
    } else if (name !== null) xml.push(line);
  }
  flush();
  return { domains, irqs };
}

/** The pins and queue interrupts a saved plan leaves on a host: its domain XMLs after the change. */
export function planState(
  tasks: {
    module: string;
    args: unknown;
    changes: { target: string; after?: string | null; diff?: { after: string | null }; data?: unknown }[];
  }[],
) {
  const domains: DomainPins[] = [];
  const irqs: QueueIrq[] = [];
  for (const t of tasks) {
    for (const c of t.changes) {
      if (t.module === 'libvirt_domain' && c.diff?.after) {
        const fallback = (t.args as { name?: string } | null)?.name ?? c.target;
        domains.push(domainPins(c.diff.after, fallback));
      }
      if (t.module === 'irq_affinity' && c.target.startsWith('irq:') && c.after) {
        const d = c.data as { device?: string; name?: string } | undefined;
        const queue = /(\d+)(?:@.*)?$/.exec(d?.name ?? c.target)?.[1] ?? '?';
        irqs.push({ nic: d?.device ?? c.target.slice(4).split('/')[0], queue, cpus: parseCpuList(c.after) });
      }
    }
  }
  // one domain may be changed by several tasks: the last XML is the state it is left in
  const last = new Map(domains.map((d) => [d.name, d]));
  return { domains: [...last.values()], irqs };
}

function pick<T>(hosts: Record<string, T>, limit: string | undefined, where: string): [string, T] {
  const names = Object.keys(hosts).filter((n) => !limit || n === limit || globMatch(limit, n));
  if (names.length === 1) return [names[0], hosts[names[0]]];
  if (!names.length)
    throw new HvtuneError(`${where}: no host matches ${JSON.stringify(limit ?? 'all')} (hosts: ${Object.keys(hosts).join(', ')})`);
  throw new HvtuneError(`a map draws one host; ${where} has ${names.join(', ')}: choose one with --limit`);
}

export async function mapCommand(o: MapFlags, session: Session): Promise<HostMap> {
  const ext = /\.(svg|html?)$/i.exec(o.output)?.[1]?.toLowerCase();
  if (!ext) throw new HvtuneError(`-o ${o.output}: the map is written as .svg or .html; name the file so`);
  let map: HostMap;
  if (o.plan) {
    const plan = readPlan(o.plan);
    const [host, h] = pick(plan.hosts, o.limit, o.plan);
    const facts = o.facts ? pick(await loadFactsFile(o.facts), host, o.facts)[1] : h.facts;
    const state = planState(h.tasks);
    map = buildMap(host, facts, state.domains, state.irqs.length ? state.irqs : factsQueueIrqs(facts), `after the plan ${o.plan}`);
  } else if (o.facts) {
    const [host, facts] = pick(await loadFactsFile(o.facts), o.limit, o.facts);
    map = buildMap(host, facts, [], factsQueueIrqs(facts), `facts of ${o.facts}`);
  } else if (o.inventory?.length) {
    const inventory = loadInventory(o.inventory);
    const names = o.limit ? selectHosts(inventory, o.limit) : [...inventory.hosts.keys()];
    const [host] = pick(Object.fromEntries(names.map((n) => [n, n])), undefined, inventory.file);
    const conn = await hostConnector(inventory, o)(inventory.hosts.get(host)!);
    try {
      const [r] = await conn.read([{ kind: 'script', script: LIVE_SCRIPT }]);
      const live = parseLive(r.kind === 'script' ? r.stdout : '');
      map = buildMap(host, conn.facts as Facts, live.domains, live.irqs, 'live');
    } finally {
      await conn.close();
    }
  } else throw new HvtuneError('map needs a host to draw: -i INVENTORY --limit HOST, --facts FILE or --plan PLAN.json');
  writeFileSync(o.output, ext === 'svg' ? renderSvg(map) : renderHtml(map));
  for (const w of map.warnings) session.io.stderr(`warning: ${w}`);
  session.io.stdout(`${map.host}: map written to ${o.output}`);
  return map;
}

export function registerMap(program: Command, session: Session): void {
  withConnection(
    program
      .command('map')
      .description('Draw where vCPUs, emulator threads, NIC queue interrupts and host CPUs sit, as SVG or HTML.')
      .option(INVENTORY_FLAGS, INVENTORY_HELP, collect)
      .option('-l, --limit <pattern>', 'the host to draw')
      .option('--facts <file>', 'saved facts: draw offline, without connecting')
      .option('--plan <file>', 'a saved plan (hvtune plan -o): draw the state it leads to')
      .requiredOption('-o, --output <file>', 'where to write the map: FILE.svg or FILE.html'),
  ).action(async (o: MapFlags) => {
    await mapCommand(o, session);
  });
}
