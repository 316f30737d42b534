import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import sysfs from '../../../../modules/sysfs.js';
import { checkSchema } from '../../../../src/schema.js';
import { describePlanFixtures } from '../grub_cmdline/fixtures.js';

describePlanFixtures(sysfs, fileURLToPath(new URL('./plan', import.meta.url)));

describe('sysfs schema', () => {
  const ok = (args: unknown) => checkSchema(sysfs.schema, args).length === 0;
  it('accepts /sys paths and block matches', () => {
    expect(ok({ path: '/sys/kernel/mm/transparent_hugepage/enabled', value: 'never' })).toBe(true);
    expect(ok({ block: { match: 'vd*|sd*', attributes: { 'queue/scheduler': 'mq-deadline' } } })).toBe(true);
  });
  it('refuses paths outside /sys, .. segments and shell characters', () => {
    expect(ok({ path: '/etc/passwd', value: 'x' })).toBe(false);
    expect(ok({ path: '/sys/../etc/passwd', value: 'x' })).toBe(false);
    expect(ok({ path: '/sys/kernel/..', value: 'x' })).toBe(false);
    expect(ok({ path: '/sys/kernel/mm/transparent_hugepage/enabled', value: 'never; reboot' })).toBe(false);
    expect(ok({ block: { match: 'sd*"; rm', attributes: { 'queue/scheduler': 'none' } } })).toBe(false);
  });
});
