import type { ApiRoute } from './route.js';
import { API_KEY_ROUTES } from './routes/api-keys.routes.js';
import { CACHE_ROUTES } from './routes/cache.routes.js';
import { EVENT_ROUTES } from './routes/events.routes.js';
import { OPERATION_ROUTES } from './routes/operations.routes.js';
import { OPERATOR_ROUTES } from './routes/operator.routes.js';
import { RUN_ROUTES } from './routes/runs.routes.js';
import { WORKFLOW_ROUTES } from './routes/workflows.routes.js';

/** Every route the HTTP roles serve; the conformance test checks that the running API serves exactly these. */
export const API_ROUTES: readonly ApiRoute[] = [
  ...WORKFLOW_ROUTES,
  ...RUN_ROUTES,
  ...EVENT_ROUTES,
  ...API_KEY_ROUTES,
  ...CACHE_ROUTES,
  ...OPERATION_ROUTES,
  ...OPERATOR_ROUTES,
];
