import type { AppConfig } from '#libs/config';
import { coPartitionedAssigner } from '#libs/messaging';
import { CONFIG, roleConsumer, type RoleDefinition } from '#libs/platform';
import { CoordinatorModule } from './coordinator.module.js';
import { CoordinatorService } from './coordinator.service.js';

export const coordinatorRole: RoleDefinition = {
  name: 'coordinator',
  module: CoordinatorModule,
  defaultPort: 9403,
  transports: (app) => {
    const config = app.get<AppConfig>(CONFIG);
    const coordinator = app.get(CoordinatorService);
    return [
      roleConsumer(app, 'coordinator', {
        topics: ['run.requested', 'node.completed', 'run.control'],
        maxWaitTimeInMs: config.COORDINATOR_MAX_WAIT_MS,
        partitionsConsumedConcurrently: config.COORDINATOR_CONCURRENCY,
        partitionAssigners: [coPartitionedAssigner(config.COORDINATOR_PARTITION_GROUPS)],
        onRebalance: (assignment) => coordinator.assign(assignment),
        onDeadLetters: (letters) => coordinator.failPoisonedRuns(letters),
      }),
    ];
  },
};
