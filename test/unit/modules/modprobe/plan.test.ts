import { fileURLToPath } from 'node:url';
import modprobe from '../../../../modules/modprobe.js';
import { describePlanFixtures } from '../grub_cmdline/fixtures.js';

describePlanFixtures(modprobe, fileURLToPath(new URL('./plan', import.meta.url)));
