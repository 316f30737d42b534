// The map's model and SVG without a host: pins read from domain XML (live and as a saved plan
// leaves them), queue interrupts from irq_affinity's planned changes and from the live read.

import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parseLive, planState } from '../../../src/commands/map.js';
import type { Facts } from '../../../src/facts.js';
import { buildMap, domainPins } from '../../../src/map/model.js';
import { renderHtml, renderSvg } from '../../../src/map/svg.js';

const seed003 = Object.values(JSON.parse(readFileSync('test/fixtures/facts/seed003-2s10c-ht.json', 'utf8')).hosts)[0] as Facts;

const XML = `<domain type='kvm'>
  <name>web1</name>
  <vcpu placement='static'>2</vcpu>
  <cputune>
    <vcpupin vcpu='0' cpuset='1'/>
    <vcpupin cpuset="2-3,^3" vcpu="1"/>
    <emulatorpin cpuset='11-12'/>
  </cputune>
</domain>`;

const cells = (svg: string) =>
  new Map(
    [...svg.matchAll(/<g (class="cpu [^>]*)>/g)].map((m) => {
      const a = Object.fromEntries([...m[1].matchAll(/([\w-]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      return [Number(a['data-cpu']), a];
    }),
  );

describe('hvtune map model', () => {
  test('domain XML: vcpupin in either attribute order, exclusions resolved, emulatorpin', () => {
    expect(domainPins(XML, 'x')).toEqual({ name: 'web1', vcpupin: { 0: [1], 1: [2] }, emulatorpin: [11, 12] });
  });

  test('a saved plan: the last domain XML and the irq_affinity moves are what is drawn', () => {
    const state = planState([
      { module: 'libvirt_domain', args: { name: 'web1' }, changes: [{ target: 'domain:web1', diff: { after: XML } }] },
      {
        module: 'irq_affinity',
        args: {},
        changes: [
          { target: 'irq:ens1f0/i40e-ens1f0-TxRx-0', after: '0', data: { kind: 'irq', device: 'ens1f0', name: 'i40e-ens1f0-TxRx-0' } },
          { target: 'irq:ens1f0/i40e-ens1f0-TxRx-1', after: '20', data: { kind: 'irq', device: 'ens1f0', name: 'i40e-ens1f0-TxRx-1' } },
          { target: '/etc/default/irqbalance', diff: { after: 'x' } },
        ],
      },
    ]);
    const map = buildMap('zs-compute1', seed003, state.domains, state.irqs, 'a plan');
    const c = cells(renderSvg(map));
    expect(c.get(1)).toMatchObject({ 'data-role': 'vcpu', 'data-vcpus': 'web1:0', 'data-host': 'false' });
    expect(c.get(2)).toMatchObject({ 'data-role': 'vcpu', 'data-vcpus': 'web1:1' });
    expect(c.get(3)).toMatchObject({ 'data-role': 'host' });
    expect(c.get(11)).toMatchObject({ 'data-role': 'emulator', 'data-emulator': 'web1' });
    // interrupts alone leave a CPU to the host
    expect(c.get(0)).toMatchObject({ 'data-role': 'host', 'data-irqs': 'ens1f0:0', 'data-host': 'true' });
    expect(c.get(20)).toMatchObject({ 'data-irqs': 'ens1f0:1' });
    expect(map.warnings).toEqual([]);
  });

  test('the live read: domains and queue interrupts; a pin to a CPU the host lacks is a warning', () => {
    const live = parseLive(`@@domain web1\n${XML.replace("cpuset='1'", "cpuset='77'")}\n@@irq ens3 0 1\n@@irq ens3 1 0-1\n`);
    expect(live.irqs).toEqual([
      { nic: 'ens3', queue: '0', cpus: [1] },
      { nic: 'ens3', queue: '1', cpus: [0, 1] },
    ]);
    const map = buildMap('zs-compute1', seed003, live.domains, live.irqs, 'live');
    expect(map.warnings).toEqual(['web1 vCPU 0 is pinned to CPU 77, which zs-compute1 does not have']);
    const html = renderHtml(map);
    expect(html).toContain('CPU 77, which zs-compute1 does not have');
    expect(html).not.toMatch(/<script|<link|@import|url\((?!#)/);
  });
});
