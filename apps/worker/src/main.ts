import { runRoles } from '#libs/platform';
import { workerRole } from './worker.role.js';

await runRoles([workerRole]);
