import { runRoles } from '#libs/platform';
import { coordinatorRole } from './coordinator.role.js';

await runRoles([coordinatorRole]);
