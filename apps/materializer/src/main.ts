import { runRoles } from '#libs/platform';
import { materializerRole } from './materializer.role.js';

await runRoles([materializerRole]);
