import type { RoleDefinition } from '#libs/platform';
import { FanoutModule } from './fanout.module.js';

export const fanoutRole: RoleDefinition = { name: 'fanout', module: FanoutModule, defaultPort: 9405 };
