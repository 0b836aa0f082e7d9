import type { RoleDefinition } from '#libs/platform';
import { OutboxRelayModule } from './outbox-relay.module.js';

export const outboxRelayRole: RoleDefinition = { name: 'outbox-relay', module: OutboxRelayModule, defaultPort: 9401 };
