import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import grub_cmdline from '../../../../modules/grub_cmdline.js';
import { splitCmdline } from '../../../../modules/lib/cmdline.js';
import { loadFixtures, planContext } from './fixtures.js';

interface ParseFixture {
  command: string;
  output: string;
  observed: { args?: string[]; boot?: unknown; bootConfig?: unknown };
}

// read() asks for: /etc/default/grub, the grub.d glob, /proc/cmdline, the boot-tool script.
describe.each(loadFixtures<ParseFixture>(fileURLToPath(new URL('./parse', import.meta.url))))('grub_cmdline parse %s', (_f, fixture) => {
  it(fixture.command, () => {
    const isCmdline = fixture.command === 'cat /proc/cmdline';
    const observed = grub_cmdline.parse(
      {},
      [
        { kind: 'file', path: '/etc/default/grub', content: 'GRUB_CMDLINE_LINUX=""\n' },
        { kind: 'glob', pattern: '/etc/default/grub.d/*.cfg', files: {} },
        { kind: 'file', path: '/proc/cmdline', content: isCmdline ? fixture.output : '' },
        { kind: 'script', stdout: isCmdline ? '' : fixture.output, stderr: '', code: 0 },
      ],
      planContext({}),
    );
    if (fixture.observed.boot) expect(observed.boot).toEqual(fixture.observed.boot);
    if (fixture.observed.bootConfig) expect(observed.bootConfig).toEqual(fixture.observed.bootConfig);
    if (fixture.observed.args) {
      expect(splitCmdline(fixture.output)).toEqual(fixture.observed.args);
      // Every argument of the live line is pending when the file asks for them and the plan sees them live.
      const result = grub_cmdline.plan(
        { present: fixture.observed.args },
        { ...observed, main: `GRUB_CMDLINE_LINUX="${fixture.observed.args.join(' ')}"\n` },
        planContext({}),
      );
      expect(result.changes).toEqual([]);
      expect(result.pending).toEqual([]);
    }
  });
});
