import type { RoleDefinition } from '#libs/platform';
import { ApiModule } from './api.module.js';

export const apiRole: RoleDefinition = { name: 'api', module: ApiModule, defaultPort: 8080 };
