import type { RoleDefinition } from '#libs/platform';
import { CoordinatorModule } from './coordinator.module.js';

export const coordinatorRole: RoleDefinition = { name: 'coordinator', module: CoordinatorModule, defaultPort: 9403 };
