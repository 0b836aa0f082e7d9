import { runRoles } from '#libs/platform';
import { runProjectorRole } from './run-projector.role.js';

await runRoles([runProjectorRole]);
