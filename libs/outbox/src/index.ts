export { insertOutboxRows, type OutboxRow } from './outbox-writer.js';
export { OutboxWaker, SKIP_OUTBOX_TRIGGER } from './outbox-wake.js';
export { LANE_COUNT, fairShare } from './lanes.js';
export {
  DEFAULT_RELAY_OPTIONS,
  OutboxRelay,
  type OutboxRelayDependencies,
  type OutboxRelayOptions,
} from './outbox-relay.js';
export { OutboxRelayMetrics, type BacklogProbeOptions } from './outbox-relay-metrics.js';
export { EagerOutboxPublisher } from './eager-publisher.js';
export type { ClaimedRow } from './relay-batch.js';
export { discardDeadLetter, listDeadLetters, redriveDeadLetter, type DeadLetterSummary } from './dead-letters.sql.js';
export { readOutboxStatus, type OutboxStatus } from './outbox-status.sql.js';
