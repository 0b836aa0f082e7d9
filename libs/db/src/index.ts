export { quoteIdent, redact, splitDatabaseUrl, withDatabase } from './database-url.js';
export {
  dropDatabase,
  ensureDatabase,
  migrate,
  MigrationError,
  readMigrations,
  type MigrationReport,
} from './migrations.js';
export { createPool, inTransaction, type Pool, type PoolOptions } from './pool.js';
export { MIGRATIONS_DIR, VECTOR_MIGRATIONS_DIR } from './migrations-dir.js';
export { GroupCommit, type GroupCommitOptions, type GroupOutcome } from './group-commit.js';
export { isDataException, isDatabaseOutage } from './db-errors.js';
export { AdvisoryLeader } from './advisory-leader.js';
export { ReadRouting, type ReplicaLag } from './read-routing.js';
export { parseLsn, replicaServes } from './wal-lsn.js';
export { preparedStatement, type PreparedStatement } from './prepared-statement.js';
