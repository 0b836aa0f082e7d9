import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ALL_ROLES } from '#apps/all-in-one/src/all-roles.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { freePort, REPO_ROOT, startProcess, type RunningProcess } from '#test/support/processes.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';

const execFileAsync = promisify(execFile);
const ctx = useTestContext('prometheus');

// Debian's `prometheus` package (.ci/run installs it; locally: apt-get install -y prometheus).
const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const RULES_DIR = join(REPO_ROOT, 'infra/prometheus/rules');
const RULE_TESTS = join(REPO_ROOT, 'infra/prometheus/tests/orchestrator.test.yml');
const DASHBOARDS_DIR = join(REPO_ROOT, 'infra/grafana/dashboards');

interface Query {
  readonly where: string;
  readonly expr: string;
}

interface Panel {
  title?: string;
  type?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

async function dashboardQueries(): Promise<Query[]> {
  const queries: Query[] = [];
  for (const file of (await readdir(DASHBOARDS_DIR)).filter((f) => f.endsWith('.json')).sort()) {
    const dashboard = JSON.parse(await readFile(join(DASHBOARDS_DIR, file), 'utf8')) as { panels: Panel[] };
    const walk = (panels: Panel[]) => {
      for (const panel of panels) {
        for (const target of panel.targets ?? []) {
          if (target.expr) queries.push({ where: `${file}: ${panel.title}`, expr: target.expr });
        }
        walk(panel.panels ?? []);
      }
    };
    walk(dashboard.panels);
  }
  return queries;
}

async function ruleQueries(): Promise<Query[]> {
  // The rule files are YAML; promtool already validates their shape, so a line scan for the block scalars suffices.
  const queries: Query[] = [];
  for (const file of (await readdir(RULES_DIR)).filter((f) => f.endsWith('.yml')).sort()) {
    const lines = (await readFile(join(RULES_DIR, file), 'utf8')).split('\n');
    let alert = '';
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      const named = /^\s*- alert: (\S+)/.exec(line);
      if (named) alert = named[1] as string;
      const expr = /^(\s*)expr: (.*)$/.exec(line);
      if (!expr) continue;
      if (expr[2] !== '|') {
        queries.push({ where: `${file}: ${alert}`, expr: expr[2] as string });
        continue;
      }
      const body: string[] = [];
      const indent = (expr[1] as string).length;
      while (i + 1 < lines.length) {
        const next = lines[i + 1] as string;
        if (next.trim() && next.length - next.trimStart().length <= indent) break;
        body.push(next.trim());
        i++;
      }
      queries.push({ where: `${file}: ${alert}`, expr: body.join('\n').trim() });
    }
  }
  return queries;
}

/** Grafana's variables as the "All" choice would fill them. */
const substitute = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replace(/\$\{?\w+\}?/g, '.*');

interface ApiReply<T> {
  status: string;
  data: T;
  error?: string;
}

describe('Prometheus (Debian package) against every role', () => {
  let api: TestApp;
  let prometheus: RunningProcess;
  let promUrl: string;

  const query = async (expr: string): Promise<ApiReply<{ resultType: string; result: unknown[] }>> => {
    const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await response.json()) as ApiReply<{ resultType: string; result: unknown[] }>;
  };

  before(async () => {
    assert.ok(
      existsSync(PROMETHEUS) && existsSync(PROMTOOL),
      `${PROMETHEUS} and ${PROMTOOL} come from Debian's prometheus package: apt-get install -y prometheus (.ci/run does)`,
    );
    await createTopics(ctx);
    api = await startRoles(ctx, ALL_ROLES);
    await api.app.listen(0, '127.0.0.1');
    const appPort = (api.app.getHttpServer().address() as { port: number }).port;

    const dir = await mkdtemp(join(tmpdir(), 'prometheus-e2e-'));
    ctx.defer(() => rm(dir, { recursive: true, force: true }));
    const config = join(dir, 'prometheus.yml');
    await writeFile(
      config,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: [${JSON.stringify(join(RULES_DIR, '*.yml'))}]`,
        'scrape_configs:',
        '  - job_name: orchestrator',
        `    static_configs: [{ targets: ["127.0.0.1:${appPort}"] }]`,
        '',
      ].join('\n'),
    );
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    prometheus = startProcess(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      process.env,
    );
    ctx.defer(() => prometheus.stop('SIGTERM', 10_000));

    // Traffic for every panel: patches (applied and rejected), runs through function, delay (a timer) and hops,
    // a live-event stream, and API key lookups (cached after the first).
    const workflowId = await createWorkflow(api, {
      nodes: {
        a: { type: 'function', config: { expression: 'input.x' } },
        wait: { type: 'delay', config: { ms: 50 } },
        b: { type: 'function', config: { expression: 'nodes.a + 1' } },
      },
      edges: [
        { from: 'a', to: 'wait' },
        { from: 'wait', to: 'b' },
      ],
    });
    const patch = async (ops: unknown[], key: string) => {
      const reply = await api.request('POST', `/v1/workflows/${workflowId}/patches`, {
        body: { ops },
        headers: { 'idempotency-key': key },
      });
      assert.equal(reply.status, 202, JSON.stringify(reply.body));
    };
    await patch([{ op: 'add', path: '/nodes/c', value: { type: 'function', config: { expression: '1' } } }], 'p1');
    await patch([{ op: 'test', path: '/nodes/zzz', value: 1 }], 'p2'); // rejected: its test fails
    const runIds = await Promise.all([1, 2, 3].map((x) => startRun(api, workflowId, { x }, {})));
    const tagged = await api.request<{ runId: string }>('POST', `/v1/workflows/${workflowId}/runs`, {
      body: { input: { x: 9 }, tag: 'metrics-test' },
    });
    assert.equal(tagged.status, 202);
    runIds.push(tagged.body.runId);
    for (const id of runIds) assert.equal((await waitForRun(api, id)).status, 'completed');
    const events = await fetch(`http://127.0.0.1:${appPort}/v1/runs/${runIds[0]}/events`, {
      headers: { authorization: `Bearer ${ctx.config.BOOTSTRAP_ADMIN_KEY}` },
    });
    assert.equal(events.status, 200);
    assert.match(await events.text(), /run\.completed/);
    await eventually(async () => {
      const reply = await api.request<{ patches: { status: string }[] }>(
        'GET',
        `/v1/workflows/${workflowId}/patches?limit=50`,
      );
      return reply.body.patches?.every((p) => p.status !== 'pending') ? true : undefined;
    }, 'patches decided');
    await api.request('GET', '/health', { key: null });
    await api.request('GET', '/no-such-route', { key: null });

    await eventually(
      async () => ((await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok ? true : undefined),
      `prometheus ready (output: ${prometheus.output()})`,
    );
  });

  it('scrapes the app: up, and the metrics added for issue 5', async () => {
    await eventually(async () => {
      const reply = await query('up{job="orchestrator"} == 1');
      return reply.data?.result.length ? true : undefined;
    }, 'a successful scrape');
    for (const name of [
      'http_request_duration_seconds_count{route="/v1/workflows/:id/runs",status="2xx",method="POST"}',
      'http_request_duration_seconds_count{route="unmatched",status="4xx"}',
      'pg_pool_connections{state="in_use"}',
      'pg_pool_connections{state="idle"}',
      'pg_pool_connections{state="waiting"}',
      'pg_pool_max',
      'redis_ops_total{operation="ping",status="ok"}',
      'redis_ops_total{operation="info",status="ok"}',
      'redis_memory_used_bytes',
      'redis_memory_max_bytes',
      'cache_requests_total{cache="api_key",result="hit"}',
      'coordinator_runs_in_memory',
      'coordinator_transactions_total',
      'run_projection_lag_seconds_count',
      'cache_time_saved_seconds_total{cache="api_key"}',
      'runs_oldest_unfinished_age_seconds',
      'run_timeout_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'process_cpu_seconds_total',
    ]) {
      await eventually(async () => ((await query(name)).data?.result.length ? true : undefined), name, 10_000);
    }
    // Asked until answered: a scrape that overran its 1 s timeout on a busy machine marks the series stale, and an
    // instant query then finds nothing until the next scrape succeeds.
    const value = (expression: string) =>
      eventually(async () => {
        const [sample] = (await query(expression)).data?.result ?? [];
        return sample ? Number((sample as { value: [number, string] }).value[1]) : undefined;
      }, expression);
    assert.ok((await value('sum(cache_requests_total{cache="api_key",result="hit"})')) > 0, 'API key cache hits');
    assert.ok((await value('redis_memory_used_bytes')) > 0, 'Redis used memory');
  });

  it('every dashboard panel query parses and returns series', async (t) => {
    const queries = await dashboardQueries();
    assert.ok(queries.length >= 40, `only ${queries.length} panel queries found`);
    // kafka_consumergroup_* and kafka_topic_partition_end_offset come from the consumer-lag exporter on the api
    // role (libs/kafka consumer-lag, another engineer's part of issue 5). Until it is exported, ONLY the panels that
    // read those series may be empty; each must still parse. Once any of them is exported, all must return series.
    const lagExported = (await query('count({__name__=~"kafka_consumergroup_lag|kafka_topic_partition_end_offset"})'))
      .data.result.length;
    const empty: string[] = [];
    const tolerated: string[] = [];
    const deadline = Date.now() + 12_000;
    for (const q of queries) {
      const expr = substitute(q.expr);
      const lagPanel = /\bkafka_(consumergroup|topic_partition)_/.test(expr);
      for (;;) {
        const reply = await query(expr);
        assert.equal(reply.status, 'success', `${q.where}: ${expr}: ${reply.error}`);
        if (reply.data.result.length) break;
        if (lagPanel && !lagExported) {
          tolerated.push(q.where);
          break;
        }
        // Rates need two samples of a series: give the 1 s scrapes a moment before calling the panel empty.
        if (Date.now() > deadline) {
          empty.push(`${q.where}: ${expr}`);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    if (tolerated.length) t.diagnostic(`lag exporter not exported yet; empty lag panels: ${tolerated.join('; ')}`);
    assert.deepEqual(empty, [], 'panels without series');
  });

  it('every alert rule expression parses, and Prometheus evaluates every rule without error', async () => {
    const queries = await ruleQueries();
    assert.deepEqual(queries.map((q) => q.where.split(': ')[1]).sort(), [
      'CacheHitRateCollapsing',
      'ConsumerLagGrowing',
      'HighLatency',
      'OutboxBacklogOld',
      'PostgresConnectionPoolExhausted',
      'RedisMemoryHigh',
      'WorkflowStalled',
    ]);
    for (const q of queries) {
      const reply = await query(q.expr);
      assert.equal(reply.status, 'success', `${q.where}: ${reply.error}`);
    }
    const rules = await eventually(async () => {
      const response = await fetch(`${promUrl}/api/v1/rules`);
      const reply = (await response.json()) as ApiReply<{
        groups: { rules: { name: string; health: string; lastError?: string }[] }[];
      }>;
      const all = reply.data.groups.flatMap((g) => g.rules);
      return all.length && all.every((r) => r.health !== 'unknown') ? all : undefined;
    }, 'rules evaluated');
    assert.deepEqual(
      rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`),
      [],
    );
    assert.equal(rules.length, queries.length);
  });

  it('promtool: the rule files check, the rule unit tests pass, the scrape config checks', async () => {
    for (const file of (await readdir(RULES_DIR)).filter((f) => f.endsWith('.yml'))) {
      await execFileAsync(PROMTOOL, ['check', 'rules', join(RULES_DIR, file)]);
    }
    const tests = await execFileAsync(PROMTOOL, ['test', 'rules', RULE_TESTS]);
    assert.match(tests.stdout + tests.stderr, /SUCCESS/);
    await execFileAsync(PROMTOOL, ['check', 'config', join(REPO_ROOT, 'infra/prometheus/prometheus.yml')], {
      cwd: REPO_ROOT,
    });
  });
});
