import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createKafka, LagExporter, openAdmin } from '#libs/kafka';
import { createTopics, eventually } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { AdvisoryLeader } from './advisory-leader.js';
import { createPool } from './pool.js';

const ctx = useTestContext('advisory-leader');

describe('AdvisoryLeader: one process leads among those sharing a database', () => {
  const pool = (name: string) => {
    const created = createPool(ctx.databaseUrl, { name });
    ctx.defer(() => created.end());
    return created;
  };

  it('lets one lead, hands over when it closes, and when its connection dies', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((name) => new AdvisoryLeader(pool(`leader-${name}`), 'test role'));
    const other = new AdvisoryLeader(pool('leader-other'), 'another role');
    assert.ok(a && b && c);
    // Registered after the pools': runs before them, so a failed assertion does not leave a lock's connection
    // checked out of a pool that then never ends.
    ctx.defer(() => Promise.all([a.close(), b.close(), c.close(), other.close()]));
    assert.deepEqual(await Promise.all([a.isLeader(), a.isLeader()]), [true, true], 'concurrent asks share one');
    assert.deepEqual([await b.isLeader(), await c.isLeader()], [false, false]);
    assert.equal(await other.isLeader(), true, 'another name is another lock');

    await a.close();
    assert.equal(await a.isLeader(), false, 'a closed one never leads again (its pool is about to end)');
    assert.equal(await b.isLeader(), true, 'the next asker takes over');
    assert.equal(await c.isLeader(), false);

    // The leader's session ends under it (its process died, the database restarted): the lock goes with it.
    const admin = pool('leader-admin');
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_locks
        WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND objid = hashtext('test role')::oid`,
    );
    // pg_terminate_backend only signals: the lock goes when that backend has exited, a moment later.
    await eventually(async () => ((await c.isLeader()) ? true : undefined), 'c takes over');
    assert.equal(await b.isLeader(), false, 'b notices it lost the lead');
  });

  it('two lag exporters of one deployment: one exports the series, the other none', async () => {
    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    await createTopics(ctx);
    const admin = openAdmin(kafka, 'leader-test');
    await admin.connect();
    try {
      await admin.setOffsets({
        groupId: ctx.group('lagging'),
        topic: ctx.topic('run.events').name,
        partitions: [{ partition: 0, offset: '0' }],
      });
    } finally {
      await admin.disconnect();
    }
    const registries = [new Registry(), new Registry()];
    const exporters = registries.map(
      (registry, i) =>
        new LagExporter({
          kafka,
          registry,
          prefix: ctx.topicPrefix,
          cacheMs: 0,
          leader: new AdvisoryLeader(pool(`exporter-${i}`), 'lag-exporter'),
        }),
    );
    try {
      const leaders = await Promise.all(
        registries.map(async (r) => (await r.getSingleMetric('kafka_lag_exporter_leader')?.get())?.values[0]?.value),
      );
      assert.deepEqual(leaders.sort(), [0, 1]);
      // The leader exports the group's one committed partition (once the broker lists the group), the other nothing.
      const counts = await eventually(async () => {
        const series = await Promise.all(
          registries.map(
            async (r) => (await r.getSingleMetric('kafka_consumergroup_committed_offset')?.get())?.values ?? [],
          ),
        );
        const found = series.map((s) => s.length).sort();
        return found[1] === 1 ? found : undefined;
      }, 'the leader to export the group');
      assert.deepEqual(counts, [0, 1], 'exported once');
    } finally {
      await Promise.all(exporters.map((e) => e.close()));
    }
  });
});
