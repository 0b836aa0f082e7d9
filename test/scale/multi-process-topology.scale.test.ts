import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { followEventStream, requestEventStream } from '#libs/api-client';
import { createPool } from '#libs/db';
import { createKafka } from '#libs/kafka';
import { isTerminalRunEvent } from '#libs/runs';
import { useTestContext } from '#test/harness/test-context.js';
import { ADMIN_KEY, createTopics, eventually } from '#test/support/app.js';
import { changelogAnomalies } from '#test/support/faults/changelog-invariants.js';
import { loadAnomalies, loadDrained } from '#test/support/faults/load-invariants.js';
import { createLoadWorkflow, LOAD_DEFINITIONS, MixedLoad } from '#test/support/faults/mixed-load.js';
import { REPO_ROOT, startProcess, waitForHttpOk } from '#test/support/processes.js';
import { exec } from '#test/support/private/service.js';

/**
 * Issue 15: every role in processes of its own under pm2 (`npm run start:topology`'s infra/topology file): 2 APIs,
 * 3 coordinators, 2 workers (so 2 per node type), 2 materializers, 2 relays, 2 projectors, 2 fanouts. Under a load of
 * runs and patches through both APIs, with clients following runs on both fanouts, one instance of every role is
 * SIGKILLed in turn and pm2 starts it again. Nothing accepted is lost or applied twice, every run's events are
 * numbered 1..n with no gap (per-key order), every followed stream ends with its terminal event, each event once, and
 * one API process alone exports consumer lag.
 */
const PARTITIONS = 6;
const ctx = useTestContext('topology', { partitions: PARTITIONS });
/** The ecosystem file's order and counts (infra/topology/ecosystem.config.cjs). */
const ROLES = [
  ['api', 2],
  ['coordinator', 3],
  ['worker', 2],
  ['materializer', 2],
  ['outbox-relay', 2],
  ['run-projector', 2],
  ['fanout', 2],
] as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A first port with the 70 after it free, for the ecosystem's port blocks. */
async function freePortBlock(span: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + 10 * Math.floor(Math.random() * 3_000);
    let all = true;
    for (let port = base; port < base + span && all; port++) all = await free(port);
    if (all) return base;
  }
  throw new Error('no free block of ports');
}

/** The pid listening on a local port. */
async function pidOn(port: number): Promise<number> {
  const { stdout } = await exec('ss', ['-ltnpH', `sport = :${port}`]);
  const pid = /pid=(\d+)/.exec(stdout)?.[1];
  if (!pid) throw new Error(`nothing listens on ${port}: ${stdout}`);
  return Number(pid);
}

describe('every role in several processes under pm2, one instance of each killed mid-load (issue 15)', () => {
  it('loses nothing, doubles nothing, keeps per-run order, and exports lag once', { timeout: 400_000 }, async (t) => {
    await createTopics(ctx);
    const base = await freePortBlock(10 * ROLES.length);
    const ports = (role: (typeof ROLES)[number][0]) => {
      const index = ROLES.findIndex(([name]) => name === role);
      return Array.from({ length: ROLES[index]?.[1] ?? 0 }, (_, i) => base + 10 * index + i);
    };
    const home = await mkdtemp(join(tmpdir(), 'orch-pm2-'));
    ctx.defer(() => rm(home, { recursive: true, force: true }));
    const pm2 = startProcess(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/pm2/bin/pm2-runtime'),
        'start',
        join(REPO_ROOT, 'infra/topology/ecosystem.config.cjs'),
      ],
      {
        ...process.env,
        PM2_HOME: home,
        TOPOLOGY_PORT: String(base),
        DATABASE_URL: ctx.databaseUrl,
        KAFKA_TOPIC_PREFIX: ctx.topicPrefix,
        KAFKA_PARTITIONS: String(PARTITIONS),
        CONSUMER_SESSION_TIMEOUT_MS: '6000',
        LOG_LEVEL: 'warn',
      },
    );
    // pm2-runtime stops its processes on SIGINT; SIGKILL of the group after that leaves none behind.
    ctx.defer(async () => {
      await pm2.stop('SIGINT', 30_000);
      await pm2.stop('SIGKILL');
    });
    const everyPort = ROLES.flatMap(([role]) => ports(role));
    await Promise.all(everyPort.map((port) => waitForHttpOk(`http://127.0.0.1:${port}/health`, pm2, 120_000)));
    const [api0, api1] = ports('api').map((port) => `http://127.0.0.1:${port}`) as [string, string];

    const createWorkflow = (definition: unknown) => createLoadWorkflow(api0, definition, 'topology');
    const workflows = {
      chain: await createWorkflow(LOAD_DEFINITIONS.chain),
      delay: await createWorkflow(LOAD_DEFINITIONS.delay),
    };
    const patched = await Promise.all([1, 2, 3, 4].map(() => createWorkflow(LOAD_DEFINITIONS.patched)));
    // One load through each API, each on patched workflows of its own (a patch's version order is per workflow).
    const loads = [
      new MixedLoad(api0, { ...workflows, patched: patched.slice(0, 2) }, 'topology_a'),
      new MixedLoad(api1, { ...workflows, patched: patched.slice(2) }, 'topology_b'),
    ];

    // Clients following runs on both fanouts directly, each to its terminal event, resuming after a drop.
    const fanouts = ports('fanout');
    const followed: Promise<{ runId: string; ids: string[]; last: string }>[] = [];
    const follow = (runId: string, port: number) =>
      (async () => {
        const ids: string[] = [];
        let last = '';
        for await (const event of followEventStream({
          open: (lastEventId, signal) =>
            requestEventStream(
              { baseUrl: `http://127.0.0.1:${port}`, apiKey: ADMIN_KEY, path: `/v1/runs/${runId}/events` },
              lastEventId,
              signal,
            ),
          isLast: (e) => isTerminalRunEvent(e.event),
          maxRetries: 100,
          retryMs: 250,
          signal: AbortSignal.timeout(180_000),
        })) {
          if (event.id) ids.push(event.id);
          last = event.event;
        }
        return { runId, ids, last };
      })();
    let following = true;
    const followLoop = (async () => {
      for (let i = 0; following; i++) {
        const run = loads[i % 2]?.runs.at(-1);
        if (run) followed.push(follow(run.id, fanouts[i % 2] as number));
        await sleep(700);
      }
    })();

    const kills: Record<string, number> = {};
    loads.forEach((load) => load.start(200));
    try {
      await sleep(4_000);
      // One instance of each role every few seconds, without waiting for pm2 to bring the last one back: several
      // roles are short an instance at once, as on a bad day.
      const restarted: Promise<void>[] = [];
      for (const [role, count] of ROLES) {
        const port = ports(role)[count - 1] as number;
        const pid = await pidOn(port);
        process.kill(pid, 'SIGKILL');
        const killed = Date.now();
        restarted.push(
          (async () => {
            await eventually(
              async () => ((await pidOn(port).catch(() => pid)) !== pid ? true : undefined),
              `pm2 restarts the killed ${role}`,
              120_000,
            );
            await waitForHttpOk(`http://127.0.0.1:${port}/health`, pm2, 120_000);
            kills[role] = Date.now() - killed;
          })(),
        );
        await sleep(3_000);
      }
      await Promise.all(restarted);
      following = false;
      await followLoop;
      await Promise.all(loads.map((load) => load.stop()));
      const pool = createPool(ctx.databaseUrl, { name: 'topology-check' });
      ctx.defer(() => pool.end());
      for (const [i, load] of loads.entries()) {
        const own = patched.slice(2 * i, 2 * i + 2);
        await eventually(
          async () => ((await loadDrained(pool, load, own).catch(() => false)) ? true : undefined),
          `load ${i}: every accepted run ended and every patch decided`,
          120_000,
        );
        assert.deepEqual(await loadAnomalies(pool, load, own), [], `load ${i}: nothing lost or applied twice`);
        assert.ok(load.runs.length > 20 && load.patches.length > 20, `${load.runs.length} runs`);
      }
      assert.deepEqual(
        await changelogAnomalies(
          createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger }),
          {
            prefix: ctx.topicPrefix,
            registryUrl: ctx.config.SCHEMA_REGISTRY_URL,
            runIds: loads.flatMap((load) => load.runs.map((r) => r.id)),
          },
        ),
        [],
        "every run's transitions written once each, in order, across coordinator kills and rebalances",
      );
      const streams = await Promise.all(followed);
      assert.ok(streams.length >= 10, `${streams.length} streams followed`);
      for (const stream of streams) {
        assert.equal(stream.last, 'run.completed', `${stream.runId}: ends with its terminal event`);
        assert.equal(new Set(stream.ids).size, stream.ids.length, `${stream.runId}: each event once`);
      }
      const leaders = await Promise.all(
        [api0, api1].map(async (api) => {
          const text = await (await fetch(`${api}/metrics`)).text();
          return Number(/^kafka_lag_exporter_leader(?:\{[^}]*\})? (\d+)$/m.exec(text)?.[1]);
        }),
      );
      assert.deepEqual(leaders.sort(), [0, 1], 'one API process exports consumer lag');
      t.diagnostic(
        JSON.stringify({
          runs: loads.map((l) => l.runs.length),
          patches: loads.map((l) => l.patches.length),
          streams: streams.length,
          restartMs: kills,
        }),
      );
    } catch (error) {
      t.diagnostic(`pm2-runtime output (tail):\n${pm2.output().slice(-8_000)}`);
      throw error;
    } finally {
      following = false;
      await Promise.all(loads.map((load) => load.abandon()));
    }
  });
});
