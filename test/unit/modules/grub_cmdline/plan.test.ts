import { fileURLToPath } from 'node:url';
import grub_cmdline from '../../../../modules/grub_cmdline.js';
import { describePlanFixtures } from './fixtures.js';

describePlanFixtures(grub_cmdline, fileURLToPath(new URL('./plan', import.meta.url)));
