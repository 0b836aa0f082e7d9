import type { AppConfig } from '#libs/config';
import { dispatchTopic } from '#libs/events';
import { CONFIG, roleConsumer, type RoleDefinition } from '#libs/platform';
import { WorkerModule } from './worker.module.js';
import { WorkerService } from './worker.service.js';

/** One consumer group per node type in WORKER_TYPES, so each type scales (and lags) on its own. */
export const workerRole: RoleDefinition = {
  name: 'worker',
  module: WorkerModule,
  defaultPort: 9404,
  transports: (app) => {
    const config = app.get<AppConfig>(CONFIG);
    const worker = app.get(WorkerService);
    return config.WORKER_TYPES.map((type) =>
      roleConsumer(app, `worker-${type}`, {
        topics: [dispatchTopic(type)],
        maxWaitTimeInMs: config.WORKER_MAX_WAIT_MS,
        partitionsConsumedConcurrently: config.WORKER_CONCURRENCY,
        onDeadLetters: (letters) => worker.reportPoisonedTasks(letters),
      }),
    );
  },
};
