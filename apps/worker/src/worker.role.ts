import type { RoleDefinition } from '#libs/platform';
import { WorkerModule } from './worker.module.js';

export const workerRole: RoleDefinition = { name: 'worker', module: WorkerModule, defaultPort: 9404 };
