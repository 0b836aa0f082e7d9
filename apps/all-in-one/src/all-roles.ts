import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { materializerRole } from '#apps/materializer/src/materializer.role.js';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { fanoutRole } from '#apps/fanout/src/fanout.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';

/** Every role, in the order they start; the all-in-one process is the local default on a small machine. */
export const ALL_ROLES = [
  apiRole,
  outboxRelayRole,
  materializerRole,
  coordinatorRole,
  runProjectorRole,
  workerRole,
  fanoutRole,
];
