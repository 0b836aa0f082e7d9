import { loadConfig } from '#libs/config';
import { createLogger } from '#libs/observability';
import { redact } from './database-url.js';
import { MIGRATIONS_DIR } from './migrations-dir.js';
import { migrate } from './migrations.js';

const logger = createLogger({ component: 'migrate' });
try {
  const config = loadConfig();
  const report = await migrate(config.DATABASE_URL, MIGRATIONS_DIR);
  logger.info(
    { database: report.database, created: report.created, applied: report.applied, url: redact(config.DATABASE_URL) },
    report.applied.length ? `applied ${report.applied.length} migration(s)` : 'database is up to date',
  );
} catch (error) {
  logger.error({ err: error }, (error as Error).message);
  process.exitCode = 1;
}
