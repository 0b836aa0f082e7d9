import type { Resources } from './resources.js';
import type { Sandbox } from './sandbox.js';
import { sandboxEnv, startHttpProcess, type HttpTarget } from './service.js';

/** The api app (dist/apps/api/src/main.js) against the sandbox, with the variant's environment on top. */
export function startApi(
  sandbox: Sandbox,
  env: Record<string, string>,
  logLevel: string,
  resources: Resources,
): Promise<HttpTarget> {
  return startHttpProcess('dist/apps/api/src/main.js', { ...sandboxEnv(sandbox, logLevel), ...env }, resources, {
    listening: Number(env.HTTP_PROCESSES ?? 1),
  });
}
