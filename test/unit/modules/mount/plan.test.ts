import mount from '../../../../modules/mount.js';
import { describeParseFixtures, describePlanFixtures } from '../file/fixtures.js';

const observedHost = { fstab: '', entry: null, entries: 0, live: null, mountPoint: 'directory', ids: { groups: { kvm: 107 }, users: {} } };
describePlanFixtures(mount, import.meta.dirname, observedHost);
describeParseFixtures(mount, import.meta.dirname);
