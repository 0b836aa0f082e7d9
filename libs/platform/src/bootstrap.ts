import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, loadConfig, type AppConfig } from '#libs/config';
import type { Logger } from 'pino';
import { createLogger, PinoNestLogger } from '#libs/observability';
import { installHttpTracing, startTracing, stopTracing, TracingConfigError } from '#libs/tracing';
import { PlatformModule } from './platform.module.js';

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
    new FastifyAdapter({ bodyLimit: config.HTTP_BODY_LIMIT_BYTES, return503OnClosing: true }),
    { logger: new PinoNestLogger(logger.child({ component: 'nest' })), bufferLogs: false, abortOnError: false },
  );
  // JSON is the only body the API takes; anything else is a 415 rather than a string handed to a handler.
  app.getHttpAdapter().getInstance().removeContentTypeParser(['text/plain']);
  // A span per request (honouring an incoming traceparent) when tracing is on; nothing at all when it is off.
  installHttpTracing(app.getHttpAdapter().getInstance());
  drainConnectionsOnClose(app);
  for (const role of roles) {
    for (const strategy of role.transports?.(app) ?? []) {
      app.connectMicroservice({ strategy }, { inheritAppConfig: true });
    }
  }
  return app;
}

/**
 * Closing the HTTP server only drops connections idle at that moment: a keep-alive connection whose request was in
 * flight stays open after answering, and close() then waits for its keep-alive timeout, past the shutdown timeout.
 * So while closing, answers carry `connection: close`, and whatever is still open after a grace period is cut.
 * (Nest hands out a proxy of the app, so this wraps close() from the outside instead of replacing it.)
 */
const draining = new WeakSet<object>();

function drainConnectionsOnClose(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onSend', async (_request, reply) => {
    if (draining.has(fastify)) void reply.header('connection', 'close');
  });
}

async function closeDraining(app: INestApplication, graceMs = 1_000): Promise<void> {
  draining.add((app as NestFastifyApplication).getHttpAdapter().getInstance());
  const server = app.getHttpServer() as import('node:http').Server;
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
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
  const logger = createLogger({ role: roles.length === 1 ? roles[0]?.name : 'all-in-one' }, config.LOG_LEVEL);
  exitOnSignals(app, logger, config.SHUTDOWN_TIMEOUT_MS);
  try {
    // Providers first (their bootstrap hooks connect producers, start pollers), then the consumers that use them:
    // started the other way round, a consumer with a backlog handed tasks to a producer not yet connected.
    await app.init();
    await app.startAllMicroservices();
    await app.listen(port, config.HOST);
  } catch (error) {
    logger.fatal({ err: error }, `could not start: ${(error as Error).message}`);
    await app.close().catch(() => undefined);
    process.exit(1);
  }
  logger.info({ roles: roles.map((r) => r.name), url: `http://${config.HOST}:${port}` }, 'ready');
  return app;
}
