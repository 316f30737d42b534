import command from '../../../../modules/command.js';
import { describeParseFixtures, describePlanFixtures } from '../file/fixtures.js';

describePlanFixtures(command, import.meta.dirname, { createsExists: null, removesExists: null });
describeParseFixtures(command, import.meta.dirname);
