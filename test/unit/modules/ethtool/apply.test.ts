// apply runs exactly the planned changes, on the interface named in their data, from change data
// that went through JSON (a saved plan).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import ethtool, { type EthtoolArgs, type EthtoolObserved } from '../../../../modules/ethtool.js';
import type { Change } from '../../../../src/module.js';
import { loadFixtures, planContext } from '../grub_cmdline/fixtures.js';
import { recordingHost } from '../recording-host.js';

type Fixture = { args: EthtoolArgs; observed: EthtoolObserved; facts?: Record<string, unknown> };
const fixture = Object.fromEntries(loadFixtures<Fixture>(fileURLToPath(new URL('./plan', import.meta.url))));
const saved = (changes: Change[]): Change[] => JSON.parse(JSON.stringify(changes));

/** What the read script prints for ens3 with 2 combined channels and xps tx-0 = CPU 0, tx-1 = CPU 1. */
const AFTER =
  '@@hvtune match\nens3 device\n@@hvtune-rc 0\n@@hvtune i\ndriver: virtio_net\n@@hvtune-rc 0\n' +
  '@@hvtune l\nChannel parameters for ens3:\nPre-set maximums:\nRX:\t\tn/a\nTX:\t\tn/a\nOther:\t\tn/a\nCombined:\t4\n' +
  'Current hardware settings:\nRX:\t\tn/a\nTX:\t\tn/a\nOther:\t\tn/a\nCombined:\t2\n@@hvtune-rc 0\n' +
  '@@hvtune sys\naddress 52:54:00:12:34:56\ntxqueuelen 4000\ndevpath /sys/devices/pci0000:00/0000:00:03.0/virtio0\nxps 0 1\nxps 1 2\n@@hvtune-rc 0\n';

describe('ethtool apply', () => {
  const { args, observed, facts } = fixture['channels_reset_xps.yaml'];
  const planned = ethtool.plan(args, observed, planContext({ facts })).changes;

  it('sets the channels, then each xps map the plan lists, and reads them back by the planned name', async () => {
    const scripts: string[] = [];
    const host = recordingHost({
      script: (s) => {
        scripts.push(s);
        return AFTER;
      },
    });
    await ethtool.apply(saved(planned), host, args);
    expect(host.calls).toEqual([
      'exec ethtool -L ens3 combined 2',
      "sh printf '%s\n' 1 > /sys/class/net/ens3/queues/tx-0/xps_cpus",
      "sh printf '%s\n' 2 > /sys/class/net/ens3/queues/tx-1/xps_cpus",
    ]);
    // the read-back looks for the interface plan found, not for the MAC the task names it by
    expect(scripts).toHaveLength(1);
    expect(scripts[0]).toContain('W_NAME=ens3 W_MAC=');
  });

  it('runs only the changes it is given: after a channel change, no xps map that is not among them', async () => {
    const withoutTx0 = planned.filter((c) => c.target !== 'ethtool:ens3/xps/tx-0');
    const host = recordingHost({ script: () => AFTER });
    await ethtool.apply(saved(withoutTx0), host, args);
    expect(host.calls).toEqual(['exec ethtool -L ens3 combined 2', "sh printf '%s\n' 2 > /sys/class/net/ens3/queues/tx-1/xps_cpus"]);
  });

  it('says which setting the host does not show after apply', async () => {
    const host = recordingHost({ script: () => AFTER.replace('xps 1 2', 'xps 1 3') });
    await expect(ethtool.apply(saved(planned), host, args)).rejects.toThrow(
      'hv1: ethtool:ens3/xps/tx-1 is "0-1" after apply, expected "1"',
    );
  });
});
