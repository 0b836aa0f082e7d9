import { runRoles } from '#libs/platform';
import { ALL_ROLES } from './all-roles.js';

// The composition root: every role in one process, sharing one pool, one Kafka client and one /metrics (on 8080).
await runRoles(ALL_ROLES);
