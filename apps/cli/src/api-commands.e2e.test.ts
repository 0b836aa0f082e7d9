import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ALL_ROLES } from '#apps/all-in-one/src/all-roles.js';
import { useTestContext } from '#test/harness/test-context.js';
import { ADMIN_KEY, createTopics, eventually, startRoles } from '#test/support/app.js';
import { startProcess } from '#test/support/processes.js';
import { startTcpCut } from '#test/support/private/tcp-cut.js';
import { CLI_MAIN, cliEnv, runCli, runCommand, type CliResult } from './cli-process.test-support.js';

const ctx = useTestContext('cli-api');
const fn = (expression: string) => ({ type: 'function', config: { expression } });

describe('orchestrator workflow / run / api-key against the real API', () => {
  let env: NodeJS.ProcessEnv;
  let apiUrl: string;
  let apiPort: number;
  let dir: string;
  const cli = (...args: string[]): Promise<CliResult> => runCli(args, env);
  const ok = (result: CliResult): CliResult => {
    assert.equal(result.code, 0, `exit ${result.code}\n${result.stdout}\n${result.stderr}`);
    return result;
  };

  before(async () => {
    await createTopics(ctx);
    const app = await startRoles(ctx, ALL_ROLES);
    await app.app.listen(0, '127.0.0.1');
    const port = (app.app.getHttpServer().address() as AddressInfo).port;
    apiPort = port;
    apiUrl = `http://127.0.0.1:${port}`;
    env = cliEnv(ctx, { ORCHESTRATOR_API_URL: apiUrl, ORCHESTRATOR_API_KEY: ADMIN_KEY });
    dir = await mkdtemp(join(tmpdir(), 'cli-api-'));
    ctx.defer(() => rm(dir, { recursive: true, force: true }));
  });

  it('shows help for every command group and exits 2 on usage errors', async () => {
    const help = ok(await cli('--help'));
    for (const command of ['topics', 'tail', 'lag', 'dlq', 'outbox', 'workflow', 'run', 'api-key']) {
      assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), `${command} in --help`);
    }
    assert.match(ok(await cli('run', 'watch', '--help')).stdout, /Usage: orchestrator run watch \[options\] <id>/);
    const unknown = await cli('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error: unknown command 'frobnicate'/);
    const missing = await cli('api-key', 'create');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--permission <level>/);
    const badChoice = await cli('api-key', 'create', '--permission', 'root');
    assert.equal(badChoice.code, 2);
  });

  it('exits 4 with the problem title and detail for a bad API key', async () => {
    const result = await cli('workflow', 'show', randomUUID(), '--api-key', 'not-a-real-key-at-all');
    assert.equal(result.code, 4);
    assert.match(result.stderr, /^error: Missing or invalid API key: .+\n$/);
    assert.equal(result.stdout, '');
  });

  it('exits 3 for a run that does not exist', async () => {
    const result = await cli('run', 'show', randomUUID());
    assert.equal(result.code, 3);
    assert.match(result.stderr, /^error: Not found: /);
  });

  it('creates, patches and shows a workflow, then starts, watches and shows a run', async () => {
    const definitionFile = join(dir, 'def.json');
    await writeFile(definitionFile, JSON.stringify({ nodes: { a: fn('input.x * 2') }, edges: [] }));
    const created = JSON.parse(
      ok(await cli('workflow', 'create', '--name', 'cli', '--file', definitionFile, '--json')).stdout,
    ) as {
      id: string;
      version: number;
    };
    assert.equal(created.version, 1);

    const opsFile = join(dir, 'ops.json');
    await writeFile(
      opsFile,
      JSON.stringify([
        { op: 'add', path: '/nodes/b', value: fn('nodes.a + 1') },
        { op: 'add', path: '/edges/-', value: { from: 'a', to: 'b' } },
      ]),
    );
    const patched = JSON.parse(
      ok(await cli('workflow', 'patch', created.id, '--file', opsFile, '--wait', '--json')).stdout,
    ) as {
      status: string;
      version: number;
    };
    assert.equal(patched.status, 'applied');
    assert.equal(patched.version, 2);
    const history = JSON.parse(ok(await cli('workflow', 'history', created.id, '--json')).stdout) as {
      status: string;
    }[];
    assert.deepEqual(
      history.map((p) => p.status),
      ['applied'],
    );
    const shown = JSON.parse(ok(await cli('workflow', 'show', created.id, '--json')).stdout) as {
      version: number;
      definition: { nodes: Record<string, unknown> };
    };
    assert.equal(shown.version, 2);
    assert.deepEqual(Object.keys(shown.definition.nodes).sort(), ['a', 'b']);

    const started = JSON.parse(ok(await cli('run', 'start', created.id, '--input', '{"x":20}', '--json')).stdout) as {
      runId: string;
      workflowVersion: number;
    };
    assert.equal(started.workflowVersion, 2);
    const watched = ok(await cli('run', 'watch', started.runId));
    const events = watched.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; event: string });
    assert.equal(events[0]?.event, 'run.started');
    assert.equal(events.at(-1)?.event, 'run.completed');
    assert.deepEqual(
      events.map((e) => Number(e.id)),
      events.map((_, i) => i + 1),
    );
    assert.match(watched.stderr, /: completed\n$/);
    // Watching again replays the history; resuming after the last event gets 204 and prints nothing.
    const replayed = ok(await cli('run', 'watch', started.runId));
    assert.equal(replayed.stdout, watched.stdout);
    const resumed = ok(await cli('run', 'watch', started.runId, '--last-event-id', String(events.length)));
    assert.equal(resumed.stdout, '');
    assert.match(resumed.stderr, /: completed\n$/);
    const run = JSON.parse(ok(await cli('run', 'show', started.runId, '--json')).stdout) as {
      status: string;
      output: unknown;
    };
    assert.equal(run.status, 'completed');
    assert.deepEqual(run.output, { b: 41 });
  });

  it("exports the coordinator's consumer lag on the api role's /metrics, matching `orchestrator lag`", async () => {
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const group = `${ctx.topicPrefix}coordinator`;
    const metrics = await (await fetch(`${apiUrl}/metrics`)).text();
    const series = (name: string) =>
      [...metrics.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))]
        .filter((m) => (m[1] ?? '').includes(`group="${group}"`))
        .map((m) => ({ labels: m[1] ?? '', value: Number(m[2]) }));
    const lag = series('kafka_consumergroup_lag');
    assert.ok(
      lag.length >= 3,
      metrics
        .split('\n')
        .filter((l) => l.startsWith('kafka_'))
        .join('\n'),
    );
    assert.ok(lag.every((s) => /partition="\d+"/.test(s.labels) && /topic="[^"]+"/.test(s.labels)));
    assert.ok(series('kafka_consumergroup_committed_offset').length >= 1);
    assert.match(
      metrics,
      new RegExp(`^kafka_topic_partition_end_offset\\{[^}]*topic="${escape(ctx.topicPrefix)}run\\.requested"`, 'm'),
    );
    const fromCli = JSON.parse(ok(await cli('lag', '--group', group, '--json')).stdout) as { totalLag: number }[];
    assert.equal(fromCli[0]?.totalLag, 0);
    assert.equal(
      lag.reduce((sum, s) => sum + s.value, 0),
      0,
    );
  });

  it('runs as `npm run cli`', async () => {
    const result = await runCommand('npm', ['run', '--silent', 'cli', '--', 'run', '--help'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Usage: orchestrator run \[options\] \[command\]/);
  });

  it('creates an API key that then works with its permission', async () => {
    const created = JSON.parse(ok(await cli('api-key', 'create', '--permission', 'read', '--json')).stdout) as {
      key: string;
    };
    assert.ok(created.key);
    const denied = await cli('api-key', 'create', '--permission', 'read', '--api-key', created.key);
    assert.equal(denied.code, 4);
    assert.match(denied.stderr, /^error: Not allowed with this API key: /);
  });

  it('lists the API keys and revokes one, which then stops working', async () => {
    const created = JSON.parse(ok(await cli('api-key', 'create', '--permission', 'read', '--json')).stdout) as {
      id: string;
      key: string;
    };
    const listed = JSON.parse(ok(await cli('api-key', 'list', '--json')).stdout) as { id: string; prefix: string }[];
    assert.equal(listed.find((k) => k.id === created.id)?.prefix, created.key.slice(0, 10));
    assert.deepEqual(JSON.parse(ok(await cli('api-key', 'revoke', created.id, '--json')).stdout), {
      id: created.id,
      revoked: true,
    });
    const refused = await cli('api-key', 'list', '--api-key', created.key);
    assert.equal(refused.code, 4);
    const unknown = await cli('api-key', 'revoke', randomUUID());
    assert.equal(unknown.code, 3);
  });

  it('watches a run through a cut connection: resumes after the last event, prints each once, exits 0', async () => {
    const api = (path: string, body: unknown) =>
      fetch(`${apiUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json() as Promise<Record<string, string>>);
    const definition = {
      nodes: { a: fn('1'), wait: { type: 'delay', config: { ms: 2500 } }, b: fn('2') },
      edges: [
        { from: 'a', to: 'wait' },
        { from: 'wait', to: 'b' },
      ],
    };
    const workflow = await api('/v1/workflows', { name: 'cut-watch', definition });
    const run = await api(`/v1/workflows/${workflow.id}/runs`, { input: {} });
    const relay = await startTcpCut(apiPort);
    ctx.defer(() => relay.close());
    const watch = startProcess(process.execPath, [CLI_MAIN, 'run', 'watch', String(run.runId)], {
      ...env,
      ORCHESTRATOR_API_URL: `http://127.0.0.1:${relay.port}`,
    });
    ctx.defer(() => watch.stop('SIGKILL'));
    // Cut while the run waits out its delay, after the first events are printed; mend a moment later.
    await eventually(() => Promise.resolve(watch.output().includes('"event":"run.started"') || undefined), 'events');
    await relay.cut();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await relay.mend();
    assert.equal(await watch.exited(), 0, watch.output());
    const lines = watch
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { id: string; event: string });
    assert.deepEqual(
      lines.map((l) => Number(l.id)),
      lines.map((_, i) => i + 1),
      'every event once, in order',
    );
    assert.equal(lines.at(-1)?.event, 'run.completed');
    assert.match(watch.output(), /the event stream dropped; resuming after event \d+/);
  });
});
