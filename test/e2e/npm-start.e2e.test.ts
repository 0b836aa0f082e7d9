import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { dropDatabase, withDatabase } from '#libs/db';
import { valueSubject } from '#libs/events';
import { topicCatalog } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { freePort, startProcess, waitForHttpOk } from '#test/support/processes.js';

const run = promisify(execFile);
const ctx = useTestContext('npm-start');

/** kcat's metadata listing, an independent client: topic name -> partition count. */
async function kcatTopics(brokers: string): Promise<Map<string, number>> {
  const { stdout } = await run('kcat', ['-L', '-b', brokers, '-m', '10']);
  return new Map(
    [...stdout.matchAll(/topic "([^"]+)" with (\d+) partitions/g)].map((m) => [m[1] as string, Number(m[2])]),
  );
}

describe('npm start (scripts/start.sh)', () => {
  it('prepares a fresh database, topics and schemas, serves /health, and stops cleanly on Ctrl-C', async () => {
    const port = await freePort();
    const database = `${ctx.id}_start`;
    const databaseUrl = withDatabase(ctx.databaseUrl, database);
    ctx.defer(() => dropDatabase(databaseUrl));
    const proc = startProcess('bash', ['scripts/start.sh'], {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      KAFKA_TOPIC_PREFIX: ctx.topicPrefix,
      KAFKA_PARTITIONS: '2',
      // The suite runs from the build npm test just made; rebuilding under running tests would race with them.
      ORCH_SKIP_BUILD: '1',
    });
    ctx.defer(() => proc.stop('SIGKILL'));

    const health = (await (await waitForHttpOk(`http://127.0.0.1:${port}/health`, proc, 120_000)).json()) as {
      status: string;
      roles: string[];
    };
    assert.equal(health.status, 'ok');
    assert.equal(health.roles.length, 7);

    const catalog = topicCatalog({ prefix: ctx.topicPrefix, partitions: 2, replicationFactor: 1 });
    const listed = await kcatTopics(ctx.config.KAFKA_BROKERS.join(','));
    for (const topic of catalog) assert.equal(listed.get(topic.name), 2, `kcat lists ${topic.name} with 2 partitions`);

    const subjects = (await (await fetch(`${ctx.config.SCHEMA_REGISTRY_URL}/subjects`)).json()) as string[];
    for (const topic of catalog.filter((t) => t.valueSchema)) {
      assert.ok(subjects.includes(valueSubject(topic.name)), `registry lists ${valueSubject(topic.name)}`);
    }

    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const migrated = await client.query('SELECT count(*)::int AS n FROM schema_migrations');
    await client.end();
    assert.ok((migrated.rows[0] as { n: number }).n >= 1);

    assert.equal(await proc.stop('SIGINT'), 0, proc.output());
    // It stopped only what it started: the broker the suite runs on still answers.
    assert.ok((await kcatTopics(ctx.config.KAFKA_BROKERS.join(','))).size > 0);
  });
});
