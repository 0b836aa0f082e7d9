import { apiRole } from '#apps/api/src/api.role.js';
import { materializerRole } from '#apps/materializer/src/materializer.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runRoles, type RoleDefinition } from '#libs/platform';

/**
 * The service process the benchmark drives: the roles named in BENCH_ROLES (api, outbox-relay, materializer), run as
 * `npm start` runs them, configured by the usual environment (PORT, DATABASE_URL, KAFKA_TOPIC_PREFIX, ...).
 */
const ROLES: Record<string, RoleDefinition> = {
  api: apiRole,
  'outbox-relay': outboxRelayRole,
  materializer: materializerRole,
};

const names = (process.env.BENCH_ROLES ?? 'api,outbox-relay,materializer').split(',');
const unknown = names.filter((name) => !ROLES[name]);
if (unknown.length) {
  process.stderr.write(`BENCH_ROLES: unknown role(s) ${unknown.join(', ')}; known: ${Object.keys(ROLES).join(', ')}\n`);
  process.exitCode = 1;
} else {
  await runRoles(names.map((name) => ROLES[name] as RoleDefinition));
}
