import { apiRole } from '#apps/api/src/api.role.js';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { fanoutRole } from '#apps/fanout/src/fanout.role.js';
import { materializerRole } from '#apps/materializer/src/materializer.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { METRICS_REGISTRY, runRoles, type RoleDefinition } from '#libs/platform';
import type { Registry } from 'prom-client';
import { countStatements, registerStatementMetrics } from './support/pg-statements.js';
import type { ServiceRole } from './support/service.js';

/**
 * The service process the benchmarks drive: the roles named in BENCH_ROLES (api, outbox-relay, materializer,
 * coordinator, run-projector, worker, fanout), run as `npm start` runs them, configured by the usual environment (PORT, DATABASE_URL,
 * KAFKA_TOPIC_PREFIX, ...). Unless BENCH_COUNT_STATEMENTS=0 it also counts the SQL statements its pg clients send, by
 * verb and table, and exposes the counts and their client-side time on /metrics (bench_pg_statements{statement}).
 */
const ROLES: Record<ServiceRole, RoleDefinition> = {
  api: apiRole,
  'outbox-relay': outboxRelayRole,
  materializer: materializerRole,
  coordinator: coordinatorRole,
  'run-projector': runProjectorRole,
  worker: workerRole,
  fanout: fanoutRole,
};

const names = (process.env.BENCH_ROLES ?? 'api,outbox-relay,materializer').split(',');
const unknown = names.filter((name) => !(name in ROLES));
if (unknown.length) {
  process.stderr.write(`BENCH_ROLES: unknown role(s) ${unknown.join(', ')}; known: ${Object.keys(ROLES).join(', ')}\n`);
  process.exitCode = 1;
} else {
  const counting = process.env.BENCH_COUNT_STATEMENTS !== '0';
  if (counting) countStatements();
  const app = await runRoles(names.map((name) => ROLES[name as ServiceRole]));
  if (app && counting) registerStatementMetrics(app.get<Registry>(METRICS_REGISTRY));
}
