import { runRoles } from '#libs/platform';
import { outboxRelayRole } from './outbox-relay.role.js';

await runRoles([outboxRelayRole]);
