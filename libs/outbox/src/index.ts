export { insertOutboxRows, type OutboxRow } from './outbox-writer.js';
