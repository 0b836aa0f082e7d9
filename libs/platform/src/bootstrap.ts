import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, loadConfig, type AppConfig } from '#libs/config';
import { createLogger, PinoNestLogger } from '#libs/observability';
import { PlatformModule } from './platform.module.js';

export interface RoleDefinition {
  readonly name: string;
  readonly module: Type | DynamicModule;
  /** Port when this role runs alone and PORT is unset. */
  readonly defaultPort: number;
}

/** Builds (but does not start listening) one Nest application hosting the given roles. */
export async function createRolesApp(roles: readonly RoleDefinition[], config: AppConfig): Promise<NestFastifyApplication> {
  const names = roles.map((r) => r.name);
  const logger = createLogger({ role: names.length === 1 ? names[0] : 'all-in-one' }, config.LOG_LEVEL);

  @Module({ imports: [PlatformModule.forRoot({ config, roles: names, logger }), ...roles.map((r) => r.module)] })
  class RootModule {}

  const app = await NestFactory.create<NestFastifyApplication>(
    RootModule,
    new FastifyAdapter({ bodyLimit: 1024 * 1024, return503OnClosing: true }),
    { logger: new PinoNestLogger(logger.child({ component: 'nest' })), bufferLogs: false, abortOnError: false },
  );
  app.enableShutdownHooks();
  return app;
}

/**
 * The entry point of every app: validates the environment once (printing every bad variable and exiting 1), then
 * serves `/health`, `/metrics` and the roles' own routes until SIGINT/SIGTERM.
 */
export async function runRoles(roles: readonly RoleDefinition[]): Promise<INestApplication | undefined> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 1;
      return undefined;
    }
    throw error;
  }
  const app = await createRolesApp(roles, config);
  const port = config.PORT ?? roles[0]?.defaultPort ?? 8080;
  await app.listen(port, config.HOST);
  createLogger({ role: roles.length === 1 ? roles[0]?.name : 'all-in-one' }, config.LOG_LEVEL).info(
    { roles: roles.map((r) => r.name), url: `http://${config.HOST}:${port}` },
    'ready',
  );
  return app;
}
