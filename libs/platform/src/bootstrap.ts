import 'reflect-metadata';
import cluster from 'node:cluster';
import type { Http2Session } from 'node:http2';
import { Module, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, loadConfig, type AppConfig } from '#libs/config';
import type { Logger } from 'pino';
import { createLogger, PinoNestLogger } from '#libs/observability';
import { installHttpTracing, startTracing, stopTracing, TracingConfigError } from '#libs/tracing';
import { fdLimitWarning, readOpenFilesLimit } from './fd-limit.js';
import { announceReady, httpProcessIndex } from './http-process-worker.js';
import { httpProcessesRefusal, REUSE_PORT_SUPPORTED, superviseHttpProcesses } from './http-processes.js';
import { closesEveryConnection, httpServerOptions } from './http-server-options.js';
import { jsonBodyProblem } from './json-body-check.js';
import { PlatformModule } from './platform.module.js';
import { ProblemError } from './problems.js';

export interface RoleDefinition {
  readonly name: string;
  readonly module: Type | DynamicModule;
  /** Port when this role runs alone and PORT is unset. */
  readonly defaultPort: number;
  /** Message transports (Kafka consumers) this role serves, built from the app's providers. */
  readonly transports?: (app: INestApplication) => CustomTransportStrategy[];
}

/** Builds (but does not start listening) one Nest application hosting the given roles. */
export async function createRolesApp(
  roles: readonly RoleDefinition[],
  config: AppConfig,
): Promise<NestFastifyApplication> {
  const names = roles.map((r) => r.name);
  const logger = createLogger({ role: names.length === 1 ? names[0] : 'all-in-one' }, config.LOG_LEVEL);

  @Module({ imports: [PlatformModule.forRoot({ config, roles: names, logger }), ...roles.map((r) => r.module)] })
  class RootModule {}

  const app = await NestFactory.create<NestFastifyApplication>(
    RootModule,
    // NODELAY, TCP keep-alive, the HTTP keep-alive timeout and h2c (HTTP_* variables); the option object is typed for
    // HTTP/1.1 because Fastify's h2c type lacks `http`, which it passes to http2.createServer all the same.
    new FastifyAdapter(httpServerOptions(config) as ConstructorParameters<typeof FastifyAdapter>[0]),
    { logger: new PinoNestLogger(logger.child({ component: 'nest' })), bufferLogs: false, abortOnError: false },
  );
  // JSON is the only body the API takes; anything else is a 415 rather than a string handed to a handler.
  app.getHttpAdapter().getInstance().removeContentTypeParser(['text/plain']);
  checkJsonBodies(app, config);
  // A span per request (honouring an incoming traceparent) when tracing is on; nothing at all when it is off.
  installHttpTracing(app.getHttpAdapter().getInstance());
  drainConnectionsOnClose(app, closesEveryConnection(config));
  for (const role of roles) {
    for (const strategy of role.transports?.(app) ?? []) {
      app.connectMicroservice({ strategy }, { inheritAppConfig: true });
    }
  }
  return app;
}

/**
 * Fastify's own JSON parser (prototype poisoning refused), then the checks no handler should have to repeat: nesting
 * depth and text Postgres cannot store. Its errors reach the ProblemFilter as a 400.
 */
function checkJsonBodies(app: NestFastifyApplication, config: AppConfig): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parse = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser('application/json', { bodyLimit: config.HTTP_BODY_LIMIT_BYTES }, (request, body, done) => {
    // The request type differs only in the raw server's (h2c or HTTP/1.1), which the JSON parser never reads.
    void parse(request as Parameters<typeof parse>[0], body.toString(), (error: Error | null, value?: unknown) => {
      if (error) return done(error, undefined);
      const problem = jsonBodyProblem(value, config.JSON_MAX_DEPTH);
      if (problem) return done(new ProblemError('malformed_request', problem), undefined);
      done(null, value);
    });
  });
}

/**
 * Closing the HTTP server only drops connections idle at that moment: a keep-alive connection whose request was in
 * flight stays open after answering, and close() then waits for its keep-alive timeout, past the shutdown timeout.
 * So while closing, answers carry `connection: close`, and whatever is still open after a grace period is cut.
 * (Nest hands out a proxy of the app, so this wraps close() from the outside instead of replacing it.)
 */
const draining = new WeakSet<object>();
/** h2c: the open HTTP/2 sessions of a server, which has no closeAllConnections(). */
const http2Sessions = new WeakMap<object, Set<Http2Session>>();

function drainConnectionsOnClose(app: NestFastifyApplication, always: boolean): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onSend', async (request, reply) => {
    // HTTP/2 forbids connection headers (the answer would fail); its sessions get a GOAWAY in closeDraining instead.
    if ((always || draining.has(fastify)) && request.raw.httpVersionMajor < 2) void reply.header('connection', 'close');
  });
  const server = app.getHttpServer();
  if (typeof server.closeAllConnections !== 'function') {
    const sessions = new Set<Http2Session>();
    http2Sessions.set(server, sessions);
    server.on('session', (session: Http2Session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
  }
}

async function closeDraining(app: INestApplication, graceMs = 1_000): Promise<void> {
  draining.add((app as NestFastifyApplication).getHttpAdapter().getInstance());
  const server = app.getHttpServer() as import('node:http').Server;
  const sessions = http2Sessions.get(server);
  // GOAWAY: clients open no new streams on these sessions, the ones in flight finish, then the session closes.
  sessions?.forEach((session) => session.close());
  const cutAll = sessions ? () => sessions.forEach((session) => session.destroy()) : () => server.closeAllConnections();
  const timer = setTimeout(cutAll, graceMs);
  timer.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
    // Spans still buffered go out before the process exits.
    await stopTracing().catch(() => undefined);
  }
}

/**
 * SIGINT/SIGTERM close the app (HTTP first, then consumers, then connections) and exit 0; a close that hangs past the
 * timeout, or a second signal, exits 1 at once. Nest's own shutdown hooks would re-raise the signal instead, which
 * supervisors report as a crash.
 */
function exitOnSignals(app: INestApplication, logger: Logger, timeoutMs: number): void {
  let closingSince: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closingSince !== undefined) {
      // Ctrl-C reaches both this process and a wrapper script that forwards it: the same key press, not a second one.
      if (Date.now() - closingSince < 1000) return;
      logger.warn({ signal }, 'second signal: exiting without waiting for shutdown');
      process.exit(1);
    }
    closingSince = Date.now();
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown did not finish in time');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    closeDraining(app).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * The entry point of every app: validates the environment once (printing every bad variable and exiting 1), then
 * serves `/health`, `/metrics` and the roles' own routes until SIGINT/SIGTERM.
 */
export async function runRoles(roles: readonly RoleDefinition[]): Promise<INestApplication | undefined> {
  let config: AppConfig;
  try {
    config = loadConfig();
    const refusal = httpProcessesRefusal(
      roles.map((r) => r.name),
      config.HTTP_PROCESSES,
    );
    if (refusal) {
      process.stderr.write(`${refusal}\n`);
      process.exitCode = 1;
      return undefined;
    }
    if (config.HTTP_PROCESSES > 1 && cluster.isPrimary) {
      const logger = createLogger({ role: roles[0]?.name }, config.LOG_LEVEL);
      await warnOnLowFdLimit(logger, config.FD_LIMIT_MIN);
      superviseHttpProcesses({ count: config.HTTP_PROCESSES, logger, shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS });
      return undefined;
    }
    // OpenTelemetry from the standard OTEL_* variables; off unless OTEL_TRACES_EXPORTER names an exporter.
    startTracing(`orchestrator-${roles.length === 1 ? (roles[0]?.name ?? 'app') : 'all-in-one'}`);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TracingConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 1;
      return undefined;
    }
    throw error;
  }
  const app = await createRolesApp(roles, config);
  const port = config.PORT ?? roles[0]?.defaultPort ?? 8080;
  const processIndex = httpProcessIndex();
  const logger = createLogger(
    {
      role: roles.length === 1 ? roles[0]?.name : 'all-in-one',
      ...(processIndex === undefined ? {} : { processIndex }),
    },
    config.LOG_LEVEL,
  );
  // The supervisor of several processes checked it once for all of them.
  if (processIndex === undefined) await warnOnLowFdLimit(logger, config.FD_LIMIT_MIN);
  exitOnSignals(app, logger, config.SHUTDOWN_TIMEOUT_MS);
  try {
    // Providers first (their bootstrap hooks connect producers, start pollers), then the consumers that use them:
    // started the other way round, a consumer with a backlog handed tasks to a producer not yet connected.
    await app.init();
    await app.startAllMicroservices();
    // One of several processes on this port: each binds its own socket (SO_REUSEPORT) and the kernel spreads the
    // connections over them; `exclusive` keeps the cluster primary from binding it instead and handing connections on.
    const shared = processIndex !== undefined && REUSE_PORT_SUPPORTED;
    await app.listen({ port, host: config.HOST, ...(shared ? { reusePort: true, exclusive: true } : {}) });
  } catch (error) {
    logger.fatal({ err: error }, `could not start: ${(error as Error).message}`);
    await app.close().catch(() => undefined);
    process.exit(1);
  }
  logger.info(
    {
      roles: roles.map((r) => r.name),
      url: `http://${config.HOST}:${port}`,
      protocol: config.HTTP_H2C ? 'h2c' : 'http/1.1',
      pid: process.pid,
    },
    'ready',
  );
  if (processIndex !== undefined) announceReady(processIndex);
  return app;
}

async function warnOnLowFdLimit(logger: Logger, recommended: number): Promise<void> {
  const limit = await readOpenFilesLimit();
  const warning = limit && fdLimitWarning(limit, recommended);
  if (warning) logger.warn({ openFilesLimit: limit.soft, recommended }, warning);
}
