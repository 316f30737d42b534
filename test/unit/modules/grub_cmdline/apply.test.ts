// apply writes exactly what plan computed, from change data that went through JSON (a saved plan).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import grub_cmdline, { type GrubCmdlineArgs, type GrubCmdlineObserved } from '../../../../modules/grub_cmdline.js';
import type { Change } from '../../../../src/module.js';
import { recordingHost } from '../recording-host.js';
import { loadFixtures, planContext } from './fixtures.js';

const fixture = Object.fromEntries(
  loadFixtures<{ args: GrubCmdlineArgs; observed: GrubCmdlineObserved }>(fileURLToPath(new URL('./plan', import.meta.url))),
);
const saved = (changes: Change[]): Change[] => JSON.parse(JSON.stringify(changes));
const filesOf = (o: GrubCmdlineObserved) => ({ '/etc/default/grub': o.main!, ...o.dropIns });

describe('grub_cmdline apply', () => {
  it('writes the planned content of each planned file, and only those', async () => {
    const { args, observed } = fixture['data_whole_file.yaml'];
    const { changes } = grub_cmdline.plan(args, observed, planContext({}));
    const host = recordingHost({ files: filesOf(observed) });
    await grub_cmdline.apply(saved(changes), host, args);
    expect(host.calls).toEqual(['write /etc/default/grub.d/50-cloudimg-settings.cfg']);
    expect(host.files.get('/etc/default/grub.d/50-cloudimg-settings.cfg')).toBe(changes[0].diff!.after);
    expect(host.files.get('/etc/default/grub')).toBe(observed.main);
  });

  it('refuses a change without planned content (an older saved plan) before writing anything', async () => {
    const { args, observed } = fixture['add_debian.yaml'];
    const [change] = grub_cmdline.plan(args, observed, planContext({})).changes;
    const host = recordingHost({ files: filesOf(observed) });
    await expect(grub_cmdline.apply([{ ...change, data: { path: '/etc/default/grub' } }], host, args)).rejects.toThrow(
      /no planned content; plan again/,
    );
    expect(host.calls).toEqual([]);
  });
});
