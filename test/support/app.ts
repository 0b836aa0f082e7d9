import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { LOCAL_BOOTSTRAP_ADMIN_KEY } from '#libs/config';
import { applyTopics, createKafka, openAdmin } from '#libs/kafka';
import { createRolesApp, type RoleDefinition } from '#libs/platform';
import type { TestContext } from '#test/harness/test-context.js';

export const ADMIN_KEY = LOCAL_BOOTSTRAP_ADMIN_KEY;

export interface Reply<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: T;
}

export interface TestApp {
  readonly app: NestFastifyApplication;
  request<T = unknown>(
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    options?: { key?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<Reply<T>>;
}

/** Creates this file's topics (prefixed) on the broker. */
export async function createTopics(ctx: TestContext): Promise<void> {
  const admin = openAdmin(
    createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger }),
    'test-topics',
  );
  await admin.connect();
  const started = Date.now();
  try {
    // Generous: while another file's processes hold both cores, a broker has been seen answering NOT_LEADER for a new
    // topic's partitions for over 30 s (the default); the time taken is logged so a slow broker shows in the output.
    await applyTopics(admin, ctx.topics, { readyTimeoutMs: 120_000 });
    const tookMs = Date.now() - started;
    if (tookMs > 10_000) ctx.logger.warn({ tookMs, topics: ctx.topics.length }, 'test topics were slow to get leaders');
  } finally {
    await admin.disconnect();
  }
}

/**
 * Runs the given roles in this process against the file's database and topics, as `npm start` would run them
 * (transports included), and closes them after the file's tests.
 */
export async function startRoles(
  ctx: TestContext,
  roles: readonly RoleDefinition[],
  config = ctx.config,
): Promise<TestApp> {
  const app = await createRolesApp(roles, config);
  ctx.defer(() => app.close());
  await app.init();
  await app.startAllMicroservices();
  await app.getHttpAdapter().getInstance().ready();
  const fastify = app.getHttpAdapter().getInstance();
  return {
    app,
    async request<T>(
      method: 'GET' | 'POST' | 'DELETE',
      url: string,
      options: { key?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
    ) {
      const key = options.key === undefined ? ADMIN_KEY : options.key;
      const response = await fastify.inject({
        method,
        url,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(options.body !== undefined || options.rawBody !== undefined
            ? { 'content-type': 'application/json' }
            : {}),
          ...options.headers,
        },
        ...(options.rawBody !== undefined
          ? { payload: options.rawBody }
          : options.body !== undefined
            ? { payload: JSON.stringify(options.body) }
            : {}),
      });
      const text = response.body;
      return {
        status: response.statusCode,
        headers: response.headers,
        body: (text ? JSON.parse(text) : undefined) as T,
      };
    },
  };
}

/** Polls `probe` until it returns a value (not undefined) or the time runs out. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Waits until `base`/readyz answers 200: every consumer group of the roles joined. A test whose steps wait for
 * Kafka-driven progress starts them after this, so a slow join on a busy machine is not charged to one of its steps.
 */
export async function untilReady(base: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined),
    '/readyz',
    timeoutMs,
  );
}

/** A small valid definition: a function node feeding another. */
export const SAMPLE_DEFINITION = {
  nodes: {
    a: { type: 'function', config: { expression: '$.input.x' } },
    b: { type: 'function', config: { expression: 'nodes.a + 1' } },
  },
  edges: [{ from: 'a', to: 'b' }],
};
