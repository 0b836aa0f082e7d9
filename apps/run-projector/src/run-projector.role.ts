import type { AppConfig } from '#libs/config';
import { CONFIG, roleConsumer, type RoleDefinition } from '#libs/platform';
import { RunProjectorModule } from './run-projector.module.js';

export const runProjectorRole: RoleDefinition = {
  name: 'run-projector',
  module: RunProjectorModule,
  defaultPort: 9408,
  transports: (app) => {
    const config = app.get<AppConfig>(CONFIG);
    return [
      roleConsumer(app, 'run-projector', {
        topics: ['run.state'],
        maxWaitTimeInMs: config.RUN_PROJECTOR_MAX_WAIT_MS,
        minBytes: config.RUN_PROJECTOR_MIN_BYTES,
        partitionsConsumedConcurrently: config.COORDINATOR_CONCURRENCY,
        skipTombstones: true,
      }),
    ];
  },
};
