// hvtune map of seed 003's machine after numa-pinning.yml's plan: the plan is made on a lab host
// with a private libvirtd and a 9-vCPU domain, on the recorded facts of that machine (2 sockets x
// 10 cores, HT on, ens1f0 on node 0); the map drawn from the saved plan says vCPUs on 1-9, the
// emulator on 11-19 and the rest left to the host, in its SVG's data attributes and in a real
// browser's screenshot (Debian's chromium, headless), kept under test-output/ for a person.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineTcgDomain, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { hvtune, labFile } from '../play.js';

const lab = useLab({ hosts: 1 });
let libvirt: LabLibvirt | undefined;
const playbook = new URL('../../../playbooks/numa-pinning.yml', import.meta.url).pathname;
const seed003 = JSON.parse(readFileSync(new URL('../../fixtures/facts/seed003-2s10c-ht.json', import.meta.url), 'utf8')).hosts[
  'zs-compute1'
];
const OUTPUT = new URL('../../../test-output/map/', import.meta.url).pathname;

beforeAll(async () => {
  libvirt = await startLibvirt(lab(), 'hv1');
  await defineTcgDomain(lab(), 'hv1', 'vm1', { vcpus: 9, mac: '52:54:00:12:34:5a' });
  // The lab host presents seed 003's CPUs and nodes, or libvirt_domain refuses pins to CPUs it lacks.
  await lab().shadow('hv1', '/sys/devices/system/cpu/online', '0-39\n');
  await lab().shadow('hv1', '/sys/devices/system/node/online', '0-1\n');
}, 120_000);
afterAll(async () => {
  await libvirt?.stop();
});

/** Every CPU cell of the SVG: its data attributes by name. */
function cpuCells(svg: string): Map<number, Record<string, string>> {
  const cells = new Map<number, Record<string, string>>();
  for (const m of svg.matchAll(/<g (class="cpu [^>]*)>/g)) {
    const attrs = Object.fromEntries([...m[1].matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));
    cells.set(Number(attrs['data-cpu']), attrs);
  }
  return cells;
}

/** A PNG's pixels as RGB triples: chunks → IDAT inflated → scanlines unfiltered (8-bit RGB or RGBA, no interlace). */
function decodePng(png: Buffer): { width: number; height: number; pixel: (x: number, y: number) => [number, number, number] } {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[12]]).toEqual([8, 0]);
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      expect(channels).toBeGreaterThan(0);
    } else if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x];
      const a = x >= channels ? out[y * stride + x - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels] : 0;
      const paeth = () => {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      };
      const pred = [0, a, b, (a + b) >> 1, 0][filter] ?? 0;
      out[y * stride + x] = (v + (filter === 4 ? paeth() : pred)) & 0xff;
    }
  }
  return {
    width,
    height,
    pixel: (x, y) => [out[y * stride + x * channels], out[y * stride + x * channels + 1], out[y * stride + x * channels + 2]],
  };
}

describe("the map of seed 003's machine after numa-pinning.yml's plan", () => {
  test('the SVG places vCPUs on 1-9, the emulator on 11-19, the NIC on node 0, the rest for the host; chromium draws it', async () => {
    const facts = labFile(lab(), 'facts.json', JSON.stringify({ format: 'hvtune-facts', version: 1, hosts: { hv1: seed003 } }));
    const planFile = join(lab().dir, 'numa-pinning.plan.json');
    const planned = await hvtune([
      'plan',
      playbook,
      '-i',
      lab().inventoryPath,
      '--known-hosts',
      lab().knownHostsPath,
      '--facts',
      facts,
      // the lab host has no ens1f0 whose interrupts could be placed (unit tests draw those)
      '-e',
      'nic_irq_affinity=false',
      '-o',
      planFile,
    ]);
    // plan -o exits 0 once it saved the plan (Terraform's habit; --detailed-exitcode gives 2)
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);

    mkdirSync(OUTPUT, { recursive: true });
    const svgFile = join(OUTPUT, 'seed003-after-numa-pinning.svg');
    const drawn = await hvtune(['map', '--plan', planFile, '--limit', 'hv1', '-o', svgFile]);
    expect(drawn.code, drawn.stdout + drawn.stderr).toBe(0);
    const svg = readFileSync(svgFile, 'utf8');
    const cells = cpuCells(svg);
    expect([...cells.keys()].sort((a, b) => a - b)).toEqual([...Array(40).keys()]);
    const withRole = (role: string) =>
      [...cells]
        .filter(([, a]) => a['data-role'] === role)
        .map(([cpu]) => cpu)
        .sort((a, b) => a - b);
    expect(withRole('vcpu')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let cpu = 1; cpu <= 9; cpu++) expect(cells.get(cpu)?.['data-vcpus']).toBe(`vm1:${cpu - 1}`);
    expect(withRole('emulator')).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19]);
    for (let cpu = 11; cpu <= 19; cpu++) expect(cells.get(cpu)?.['data-emulator']).toBe('vm1');
    // the cores the playbook leaves to the host (the lowest of each node) and every hyper-thread sibling
    expect(withRole('host')).toEqual([0, 10, ...Array.from({ length: 20 }, (_, i) => 20 + i)]);
    expect(cells.get(0)).toMatchObject({ 'data-socket': '0', 'data-node': '0', 'data-core': '0', 'data-host': 'true' });
    expect(cells.get(10)).toMatchObject({ 'data-socket': '1', 'data-node': '1', 'data-host': 'true' });
    expect(svg).toMatch(/<g class="numa-node" data-node="0" data-nics="ens1f0 ens1f1" data-hugepages-2048kb="0"/);
    expect(svg).toContain('data-legend="vcpu:vm1"');
    expect(svg).toContain('data-legend="emulator:vm1"');
    expect(svg).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);

    const htmlFile = join(OUTPUT, 'seed003-after-numa-pinning.html');
    expect((await hvtune(['map', '--plan', planFile, '--limit', 'hv1', '-o', htmlFile])).code).toBe(0);
    const shot = join(OUTPUT, 'seed003-after-numa-pinning.png');
    rmSync(shot, { force: true });
    const profile = mkdtempSync(join(tmpdir(), 'hvtune-chromium-'));
    try {
      await promisify(execFile)(
        'chromium',
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          `--user-data-dir=${profile}`,
          `--screenshot=${shot}`,
          '--window-size=1300,760',
          `file://${htmlFile}`,
        ],
        { timeout: 90_000 },
      );
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
    const png = decodePng(readFileSync(shot));
    expect([png.width, png.height]).toEqual([1300, 760]);
    // not blank: many colours, the domain's vCPU colour (#0072B2) where CPU 1 is drawn, host grey at CPU 0
    const colours = new Set<string>();
    let vcpuPixels = 0;
    for (let y = 0; y < png.height; y += 2)
      for (let x = 0; x < png.width; x += 2) {
        const p = png.pixel(x, y);
        colours.add(p.join(','));
        if (p[0] === 0x00 && p[1] === 0x72 && p[2] === 0xb2) vcpuPixels++;
      }
    expect(colours.size).toBeGreaterThan(20);
    expect(vcpuPixels).toBeGreaterThan(1000);
    console.log(`map screenshot: ${shot} (${colours.size} colours, ${vcpuPixels} vCPU-coloured samples)`);
  });
});
