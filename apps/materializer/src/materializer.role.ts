import type { RoleDefinition } from '#libs/platform';
import { MaterializerModule } from './materializer.module.js';

export const materializerRole: RoleDefinition = { name: 'materializer', module: MaterializerModule, defaultPort: 9402 };
