import { runRoles } from '#libs/platform';
import { apiRole } from './api.role.js';

await runRoles([apiRole]);
