export {
  BatchRewound,
  CommitAfter,
  headersToStrings,
  PartitionLost,
  type AnyEventBatch,
  type DecodedMessage,
  type EventBatch,
} from './decoded-batch.js';
export { sendToDeadLetters, type DeadLetter } from './dead-letters.js';
export { KafkaBatchServer, type KafkaBatchServerOptions } from './kafka-batch-server.js';
export {
  coPartitionedAssigner,
  coPartitionedAssignment,
  transactionGroupOf,
  TransactionGroupsDisagree,
} from './co-partitioned-assigner.js';
export { BatchCoalescer } from './batch-coalescer.js';
export { Permits } from './permits.js';
export { isRetriable, waitOutOutages, type OutageWaitOptions } from './outage-wait.js';
export {
  deadLetterCounts,
  deadLetterTopicNames,
  decodeMessage,
  isDeadLetterTopic,
  listDeadLetterTopics,
  readDeadLetters,
  redriveDeadLetters,
  redriveGroup,
  UnknownSourceTopic,
  type DeadLetterMessage,
  type DeadLetterTopic,
  type RedrivenMessage,
} from './dead-letter-topics.js';
