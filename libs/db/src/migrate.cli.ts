import { loadConfig } from '#libs/config';
import { createLogger } from '#libs/observability';
import { redact } from './database-url.js';
import { MIGRATIONS_DIR, VECTOR_MIGRATIONS_DIR } from './migrations-dir.js';
import { migrate } from './migrations.js';

const logger = createLogger({ component: 'migrate' });
try {
  const config = loadConfig();
  const targets = [{ url: config.DATABASE_URL, dir: MIGRATIONS_DIR }];
  // The semantic cache's database only where the semantic cache is used.
  if (config.CACHE_ENABLED && config.SEMANTIC_CACHE_ENABLED && config.EMBEDDINGS_BASE_URL) {
    targets.push({ url: config.VECTOR_DATABASE_URL, dir: VECTOR_MIGRATIONS_DIR });
  }
  for (const { url, dir } of targets) {
    const report = await migrate(url, dir);
    logger.info(
      { database: report.database, created: report.created, applied: report.applied, url: redact(url) },
      report.applied.length ? `applied ${report.applied.length} migration(s)` : 'database is up to date',
    );
  }
} catch (error) {
  logger.error({ err: error }, (error as Error).message);
  process.exitCode = 1;
}
