import lineinfile from '../../../../modules/lineinfile.js';
import { describeParseFixtures, describePlanFixtures } from '../file/fixtures.js';

const observedFile = { type: 'file', mode: '0644', owner: 'root', group: 'root', uid: 0, gid: 0, content: '' };
describePlanFixtures(lineinfile, import.meta.dirname, observedFile);
describeParseFixtures(lineinfile, import.meta.dirname);
