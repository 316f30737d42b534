// A TCG domain started with the multi-queue virtio-net hvtune defined (issue 18: domains were only
// defined, never started with it). The lab has no /dev/vhost-net, so the backend is qemu's own; the
// tap libvirt creates in the lab host really is multi-queue, one file per queue. Huge-page backing cannot
// start here: the machine has no huge pages, and vm.nr_hugepages is the machine's, never written.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineTcgDomain, startLibvirt, type LabLibvirt } from '../../harness/libvirt.js';
import { useLab } from '../lab.js';
import { changesOn, play } from '../play.js';
import { virshOn } from '../playbooks/virsh.js';

const lab = useLab({ hosts: 1 });
const virsh = virshOn(lab, 'hv1');
let libvirt: LabLibvirt | undefined;
const playbook = `- name: multi-queue
  hosts: lab
  tasks:
    - name: two queues
      libvirt_domain:
        name: vm1
        interfaces:
          - match: {mac: "52:54:00:12:34:56"}
            driver: {name: qemu, queues: 2}
        restart: never
`;

beforeAll(async () => {
  libvirt = await startLibvirt(lab(), 'hv1');
  await defineTcgDomain(lab(), 'hv1', 'vm1', { vcpus: 2 });
}, 120_000);
afterAll(async () => {
  await lab().exec('hv1', ['virsh', '-c', 'qemu:///system', 'destroy', 'vm1']);
  await libvirt?.stop();
});

describe('a domain started with the queues hvtune defined', () => {
  test('define, start: the running domain and its tap have two queues; a second run changes nothing', async () => {
    const r = await play(lab(), playbook);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await virsh.inactiveXml('vm1')).toContain("queues='2'");
    await virsh('start', 'vm1');
    const live = await virsh('dumpxml', 'vm1');
    expect(live).toMatch(/<driver name='qemu' queues='2'\/>/);
    const tap = /<interface[\s\S]*?<target dev='([^']+)'/.exec(live)?.[1];
    expect(tap).toBeTruthy();
    // QEMU opened the tap with one file per queue; the second stays disabled until the guest
    // enables it (ethtool -L combined 2 in the guest), which a guest without an OS never does.
    const link = (await lab().exec('hv1', ['ip', '-d', 'link', 'show', 'dev', tap!])).stdout;
    expect(link).toContain('multi_queue');
    const [, attached, disabled] = /numqueues (\d+) numdisabled (\d+)/.exec(link) ?? [];
    expect(Number(attached) + Number(disabled)).toBe(2);
    const again = await play(lab(), playbook);
    expect(again.code).toBe(0);
    expect(changesOn(again.report, 'hv1')).toEqual([]);
    expect(again.report.recap.hv1.pending).toEqual([]);
  });
});
