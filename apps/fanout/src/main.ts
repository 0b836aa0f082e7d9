import { runRoles } from '#libs/platform';
import { fanoutRole } from './fanout.role.js';

await runRoles([fanoutRole]);
