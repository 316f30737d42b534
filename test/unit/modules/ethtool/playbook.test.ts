// playbooks/virtio-multiqueue.yml, guest play: valid as written, and on a guest in seed 001's state
// (the host gave 4 queues, the guest uses 1) it plans combined 1 → 4 and the xps maps.

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import ethtool from '../../../../modules/ethtool.js';
import { runCli } from '../../../../src/cli.js';
import { loadFixtures, planContext } from '../grub_cmdline/fixtures.js';
import { loadProjectPlaybook, renderPlay, taskArgs } from '../../playbooks/render.js';

const PLAYBOOK = fileURLToPath(new URL('../../../../playbooks/virtio-multiqueue.yml', import.meta.url));

describe('playbooks/virtio-multiqueue.yml, guest play', () => {
  it('validates', async () => {
    const err: string[] = [];
    const code = await runCli(['validate', PLAYBOOK, '-i', fileURLToPath(new URL('../../../../inventory/example.yml', import.meta.url))], {
      stdout: () => {},
      stderr: (s) => err.push(s),
      tty: false,
    });
    expect(code, err.join('\n')).toBe(0);
  });

  it('plans seed 001 on a 4-vCPU guest: every queue the host gave, one vCPU each', async () => {
    const [[, fixture]] = loadFixtures<{ observed: never; facts: Record<string, unknown> }>(
      fileURLToPath(new URL('./plan', import.meta.url)),
    ).filter(([f]) => f === 'seed001_virtio_combined.yaml');
    const playbook = await loadProjectPlaybook('virtio-multiqueue.yml');
    const task = taskArgs(renderPlay(playbook, 1, fixture.facts as never), 'use every queue the host gave, one vCPU per tx queue');
    const args = { ...task, device: 'ens3', persist: 'udev' } as Parameters<typeof ethtool.plan>[0];
    const result = ethtool.plan(args, fixture.observed, planContext({ facts: fixture.facts }));
    expect(result.changes.map((c) => [c.target, c.before ?? null, c.after ?? null])).toEqual([
      ['ethtool:ens3/channels/combined', '1', '4'],
      ['ethtool:ens3/xps/tx-0', '0-3', '0'],
      ['ethtool:ens3/xps/tx-1', null, '1'],
      ['ethtool:ens3/xps/tx-2', null, '2'],
      ['ethtool:ens3/xps/tx-3', null, '3'],
      ['/etc/udev/rules.d/90-hvtune-ethtool-ens3.rules', null, null],
    ]);
    expect(result.changes[5].diff?.after).toContain('RUN+="/usr/sbin/ethtool -L $name combined 4"');
    expect(result.changes[5].diff?.after).toContain(`RUN+="/bin/sh -c 'echo 8 > /sys/class/net/$name/queues/tx-3/xps_cpus'"`);
  });
});
