import file from '../../../../modules/file.js';
import { describeParseFixtures, describePlanFixtures } from './fixtures.js';

const observedFile = { type: 'file', mode: '0644', owner: 'root', group: 'root', uid: 0, gid: 0, content: null };
describePlanFixtures(file, import.meta.dirname, observedFile);
describeParseFixtures(file, import.meta.dirname);
