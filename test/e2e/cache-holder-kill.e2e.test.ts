import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { reply, startTestHttpServer } from '#apps/worker/src/http/test-http-server.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles } from '#test/support/app.js';
import { startRoleProcess } from '#test/support/role-process.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';

const ctx = useTestContext('cache-holder-kill');
/**
 * Long enough that the killed holder's successor, which gets the tasks once the holder's session lapses (6 s), finds
 * the lease still held however late the holder last renewed it (every third of the lease).
 */
const LEASE_MS = 20_000;

/** A counter's value summed over the label sets that match, from a process's /metrics. */
async function metric(port: number, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('single flight in the node result cache when the worker holding a lease is killed', () => {
  it('lets the next worker wait out the dead holder’s lease, run the node once for both runs, and share it', async () => {
    await createTopics(ctx);
    // The first request never gets an answer (its worker is killed while it waits); later ones do.
    let seen = 0;
    const server = await startTestHttpServer((_request, response) => {
      seen++;
      if (seen > 1) reply(response, 200, 'application/json', JSON.stringify({ price: 42 }));
    });
    ctx.defer(() => server.close());
    const api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole], {
      ...ctx.config,
      SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
    });
    const worker = await startRoleProcess(ctx, 'worker', {
      SSRF_ALLOWED_HOSTS: '127.0.0.1',
      CACHE_LEASE_MS: String(LEASE_MS),
    });
    const workflowId = await createWorkflow(api, {
      // A deadline far off: a task waits for another's result at most half the time it has left.
      nodes: {
        quote: {
          type: 'http_request',
          config: { method: 'GET', url: `${server.origin}/quote` },
          timeoutMs: 120_000,
        },
      },
      edges: [],
    });
    // Two runs of the same node: the first's task takes the lease and calls; the second's finds it held. Whichever
    // worker has the second task when the holder is killed, the successor gets both and finds the lease held.
    const first = await startRun(api, workflowId, { n: 1 });
    await eventually(() => Promise.resolve(server.requests.length === 1 ? true : undefined), 'the holder’s call');
    const second = await startRun(api, workflowId, { n: 2 });
    await worker.kill();
    await worker.restart();

    const [a, b] = await Promise.all([
      waitForRun(api, first, undefined, 60_000),
      waitForRun(api, second, undefined, 60_000),
    ]);
    assert.equal(a.status, 'completed', JSON.stringify(a));
    assert.equal(b.status, 'completed', JSON.stringify(b));
    assert.deepEqual(a.output, b.output);
    assert.equal(server.requests.length, 2, 'the dead holder’s call, then one call for both runs');
    // The successor found the lease still held, waited it out and ran the node; the other task got its result.
    assert.equal(
      await metric(worker.port, 'cache_waits_total', { node_type: 'http_request', outcome: 'took_over' }),
      1,
    );
    const served = [a, b].filter((run) => run.nodes.quote?.cached);
    assert.equal(served.length, 1, 'one run executed the node, the other was served its result');
    const cached = served[0]!.nodes.quote!.cached as { fromRunId: string };
    assert.equal(cached.fromRunId, served[0] === a ? b.id : a.id);
    assert.equal(await worker.current().stop('SIGTERM'), 0);
  });
});
