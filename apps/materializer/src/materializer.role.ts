import type { AppConfig } from '#libs/config';
import { CONFIG, roleConsumer, type RoleDefinition } from '#libs/platform';
import { MaterializerModule } from './materializer.module.js';

export const materializerRole: RoleDefinition = {
  name: 'materializer',
  module: MaterializerModule,
  defaultPort: 9402,
  transports: (app) => {
    const config = app.get<AppConfig>(CONFIG);
    return [
      roleConsumer(app, 'materializer', {
        topics: ['patch.created'],
        maxWaitTimeInMs: config.MATERIALIZER_MAX_WAIT_MS,
        minBytes: config.MATERIALIZER_MIN_BYTES,
      }),
    ];
  },
};
