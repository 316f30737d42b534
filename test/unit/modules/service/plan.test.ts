import service from '../../../../modules/service.js';
import { describeParseFixtures, describePlanFixtures } from '../file/fixtures.js';

const systemdHost = { init: 'systemd', systemdRunning: true };
describePlanFixtures(service, import.meta.dirname, systemdHost);
describeParseFixtures(service, import.meta.dirname);
