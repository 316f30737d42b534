// The map as a self-contained SVG (no fonts, scripts or images fetched) and as an HTML page
// holding it. Every CPU is a <g class="cpu"> with data attributes saying what runs there, so a
// test or a script can read the drawing as well as a person can look at it.

import { formatCpuList } from '../facts/cpulist.js';
import type { HostMap, MapCpu, MapNode } from './model.js';

const CELL_W = 112;
const CELL_H = 76;
const GAP = 4;
const CORES_PER_ROW = 5;
const NODE_HEAD = 46;
const SOCKET_HEAD = 30;
const PAD = 12;
// Colour-blind-safe palette (Okabe–Ito, then Tol's bright) for domains, in order of appearance.
const PALETTE = ['#0072B2', '#009E73', '#CC79A7', '#56B4E9', '#E69F00', '#D55E00', '#4477AA', '#228833', '#AA3377', '#66CCEE'];
const HOST_FILL = '#d9d9d9';
const IRQ_FILL = '#F0E442';
const FREE_FILL = '#ffffff';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const sizeName = (kib: string) => (Number(kib) >= 1048576 ? `${Number(kib) / 1048576}G` : `${Number(kib) / 1024}M`);

export function domainColours(map: HostMap): Map<string, string> {
  return new Map(map.domains.map((d, i) => [d, PALETTE[i % PALETTE.length]]));
}

function role(cpu: MapCpu): 'vcpu' | 'emulator' | 'host' {
  if (cpu.uses.some((u) => u.kind === 'vcpu')) return 'vcpu';
  if (cpu.uses.some((u) => u.kind === 'emulator')) return 'emulator';
  return 'host';
}

function cpuCell(
  cpu: MapCpu,
  x: number,
  y: number,
  colours: Map<string, string>,
  nodeId: number | null,
  socket: number,
  core: number,
): string {
  const r = role(cpu);
  const vcpus = cpu.uses.flatMap((u) => (u.kind === 'vcpu' ? [`${u.domain}:${u.vcpu}`] : []));
  const emulators = cpu.uses.flatMap((u) => (u.kind === 'emulator' ? [u.domain] : []));
  const irqs = cpu.uses.flatMap((u) => (u.kind === 'irq' ? [`${u.nic}:${u.queue}`] : []));
  const first = cpu.uses.find((u) => u.kind !== 'irq');
  const colour = first ? (colours.get(first.domain) ?? '#888888') : HOST_FILL;
  const fill = r === 'vcpu' ? colour : r === 'emulator' ? `url(#emu-${colour.slice(1)})` : HOST_FILL;
  const dark = r === 'vcpu';
  const lines = [
    ...vcpus.map((v) => `${v.split(':')[0]} vCPU ${v.split(':')[1]}`),
    ...emulators.map((d) => `${d} emulator`),
    ...(r === 'host' ? ['host'] : []),
    ...(irqs.length ? [`IRQ ${irqs.map((i) => i.replace(':', ' q')).join(', ')}`] : []),
  ];
  const shown = lines.length > 3 ? [...lines.slice(0, 2), `+${lines.length - 2} more`] : lines;
  const attrs = [
    `class="cpu cpu-${r}"`,
    `data-cpu="${cpu.id}"`,
    `data-socket="${socket}"`,
    `data-node="${nodeId ?? ''}"`,
    `data-core="${core}"`,
    `data-role="${r}"`,
    `data-vcpus="${esc(vcpus.join(' '))}"`,
    `data-emulator="${esc(emulators.join(' '))}"`,
    `data-irqs="${esc(irqs.join(' '))}"`,
    `data-host="${cpu.host}"`,
  ].join(' ');
  const text = (t: string, dy: number, bold = false) =>
    `<text x="${x + 6}" y="${y + dy}" font-size="11" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif"${bold ? ' font-weight="bold"' : ''} fill="${dark ? '#ffffff' : '#111111'}">${esc(t)}</text>`;
  return [
    `<g ${attrs}>`,
    `<title>${esc(`CPU ${cpu.id} (socket ${socket}, node ${nodeId ?? '?'}, core ${core}): ${lines.join('; ')}`)}</title>`,
    `<rect x="${x}" y="${y}" width="${CELL_W}" height="${CELL_H}" rx="4" fill="${fill}" stroke="#333333" stroke-width="1"/>`,
    text(`CPU ${cpu.id}`, 15, true),
    ...shown.map((l, i) => text(l, 31 + i * 14)),
    irqs.length
      ? `<circle cx="${x + CELL_W - 11}" cy="${y + 11}" r="7" fill="${IRQ_FILL}" stroke="#333333" stroke-width="1" class="irq-mark"/>`
      : '',
    '</g>',
  ].join('');
}

function nodeSize(node: MapNode): { w: number; h: number; coreW: number } {
  const threads = Math.max(1, ...node.cores.map((c) => c.cpus.length));
  const coreW = threads * CELL_W + (threads - 1) * GAP + 2 * GAP;
  const perRow = Math.min(CORES_PER_ROW, Math.max(1, node.cores.length));
  const rows = Math.ceil(node.cores.length / perRow);
  return { w: perRow * coreW + (perRow - 1) * 8 + 2 * PAD, h: NODE_HEAD + rows * (CELL_H + 2 * GAP + 8) + PAD, coreW };
}

/** The map as an SVG document. */
export function renderSvg(map: HostMap): string {
  const colours = domainColours(map);
  const parts: string[] = [];
  let y = 50;
  let width = 600;
  for (const socket of map.sockets) {
    const sizes = socket.nodes.map(nodeSize);
    const sw = sizes.reduce((s, n) => s + n.w, 0) + (sizes.length - 1) * 10 + 2 * PAD;
    const sh = SOCKET_HEAD + Math.max(...sizes.map((n) => n.h)) + PAD;
    parts.push(`<g class="socket" data-socket="${socket.id}">`);
    parts.push(`<rect x="10" y="${y}" width="${sw}" height="${sh}" rx="8" fill="#f4f4f4" stroke="#555555"/>`);
    parts.push(
      `<text x="${10 + PAD}" y="${y + 20}" font-size="14" font-weight="bold" font-family="DejaVu Sans, Arial, sans-serif">socket ${socket.id}</text>`,
    );
    let x = 10 + PAD;
    socket.nodes.forEach((node, i) => {
      const { w, h, coreW } = sizes[i];
      const ny = y + SOCKET_HEAD;
      const huge = Object.entries(node.hugepages).map(([k, v]) => `${sizeName(k)}: ${v}`);
      const nicMark = node.nics.length > 0;
      parts.push(
        `<g class="numa-node" data-node="${node.id ?? ''}" data-nics="${esc(node.nics.join(' '))}" ${Object.entries(node.hugepages)
          .map(([k, v]) => `data-hugepages-${k}kb="${v}"`)
          .join(' ')}>`,
      );
      parts.push(
        `<rect x="${x}" y="${ny}" width="${w}" height="${h}" rx="6" fill="#ffffff" stroke="${nicMark ? '#D55E00' : '#888888'}" stroke-width="${nicMark ? 3 : 1}"/>`,
      );
      const cpus = node.cores.flatMap((c) => c.cpus.map((t) => t.id));
      parts.push(
        `<text x="${x + PAD}" y="${ny + 18}" font-size="13" font-weight="bold" font-family="DejaVu Sans, Arial, sans-serif">NUMA node ${node.id ?? '?'} · CPUs ${formatCpuList(cpus)}${
          node.memTotalKiB ? ` · ${Math.round(node.memTotalKiB / 1048576)} GiB` : ''
        }</text>`,
      );
      parts.push(
        `<text x="${x + PAD}" y="${ny + 36}" font-size="11" font-family="DejaVu Sans, Arial, sans-serif" fill="#333333">${esc(
          [nicMark ? `NIC ${node.nics.join(', ')} here` : '', huge.length ? `hugepages ${huge.join(', ')}` : 'no hugepage pool']
            .filter(Boolean)
            .join(' · '),
        )}</text>`,
      );
      node.cores.forEach((core, ci) => {
        const cx = x + PAD + (ci % CORES_PER_ROW) * (coreW + 8);
        const cy = ny + NODE_HEAD + Math.floor(ci / CORES_PER_ROW) * (CELL_H + 2 * GAP + 8);
        parts.push(
          `<g class="core" data-socket="${socket.id}" data-core="${core.core}"><rect x="${cx}" y="${cy}" width="${coreW}" height="${CELL_H + 2 * GAP}" rx="5" fill="#eeeeee" stroke="#aaaaaa"/>`,
        );
        core.cpus.forEach((cpu, ti) =>
          parts.push(cpuCell(cpu, cx + GAP + ti * (CELL_W + GAP), cy + GAP, colours, node.id, socket.id, core.core)),
        );
        parts.push('</g>');
      });
      parts.push('</g>');
      x += w + 10;
    });
    parts.push('</g>');
    y += sh + 12;
    width = Math.max(width, sw + 20);
  }
  const legend = legendItems(map, colours);
  const legendY = y + 6;
  parts.push(`<g class="legend" transform="translate(14 ${legendY})">`);
  legend.forEach((item, i) => {
    const lx = (i % 4) * 240;
    const ly = Math.floor(i / 4) * 22;
    parts.push(
      `<g class="legend-item" data-legend="${esc(item.key)}">${item.swatch(lx, ly)}<text x="${lx + 26}" y="${ly + 13}" font-size="12" font-family="DejaVu Sans, Arial, sans-serif">${esc(item.label)}</text></g>`,
    );
  });
  parts.push('</g>');
  const height = legendY + Math.ceil(legend.length / 4) * 22 + 14;
  width = Math.max(width, 980);
  const defs = [...colours.values()].map(
    (c) =>
      `<pattern id="emu-${c.slice(1)}" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#ffffff"/><rect width="4" height="8" fill="${c}" opacity="0.55"/></pattern>`,
  );
  const title = `${map.host} — ${map.source}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-host="${esc(map.host)}" data-source="${esc(map.source)}">`,
    `<title>${esc(title)}</title>`,
    `<defs>${defs.join('')}</defs>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="14" y="30" font-size="18" font-weight="bold" font-family="DejaVu Sans, Arial, sans-serif">${esc(title)}</text>`,
    ...parts,
    '</svg>',
  ].join('\n');
}

function legendItems(map: HostMap, colours: Map<string, string>) {
  const box = (fill: string) => (x: number, y: number) =>
    `<rect x="${x}" y="${y}" width="20" height="16" rx="3" fill="${fill}" stroke="#333333"/>`;
  return [
    ...map.domains.flatMap((d) => [
      { key: `vcpu:${d}`, label: `${d}: vCPUs`, swatch: box(colours.get(d) ?? '#888888') },
      { key: `emulator:${d}`, label: `${d}: emulator threads`, swatch: box(`url(#emu-${colours.get(d)?.slice(1)})`) },
    ]),
    { key: 'host', label: 'host: nothing pinned', swatch: box(HOST_FILL) },
    {
      key: 'irq',
      label: 'NIC queue interrupt',
      swatch: (x: number, y: number) => `<circle cx="${x + 10}" cy="${y + 8}" r="7" fill="${IRQ_FILL}" stroke="#333333"/>`,
    },
    {
      key: 'nic-node',
      label: "the NIC's NUMA node (thick border)",
      swatch: (x: number, y: number) =>
        `<rect x="${x}" y="${y}" width="20" height="16" rx="3" fill="${FREE_FILL}" stroke="#D55E00" stroke-width="3"/>`,
    },
  ];
}

/** An HTML page holding the SVG and the warnings, nothing fetched. */
export function renderHtml(map: HostMap): string {
  const warnings = map.warnings.length ? `<ul class="warnings">${map.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(`hvtune map: ${map.host}`)}</title>
<style>body { margin: 0; background: #ffffff; font-family: 'DejaVu Sans', Arial, sans-serif; } .warnings { color: #a00000; }</style>
</head><body>
${renderSvg(map)}
${warnings}
</body></html>
`;
}
