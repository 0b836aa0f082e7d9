import type { DynamicModule, Type } from '@nestjs/common';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import { routeAccess } from '#libs/auth';
import type { Access } from '#libs/api-contract';
import { loadConfig } from '#libs/config';
import { createLogger } from '#libs/observability';
import { PlatformModule } from '#libs/platform';
import { ALL_ROLES } from './all-roles.js';

type ModuleRef = Type | DynamicModule;

/** An HTTP route some role serves, read from its controller's decorators (no app started). */
export interface ServedRoute {
  /** `GET /v1/runs/:id` */
  readonly route: string;
  readonly access: Access | undefined;
  readonly handler: string;
}

/** Every controller class reachable from these modules, through their imports. */
function controllersOf(modules: readonly ModuleRef[]): Set<Type> {
  const found = new Set<Type>();
  const seen = new Set<unknown>();
  const visit = (ref: ModuleRef): void => {
    if (seen.has(ref)) return;
    seen.add(ref);
    const [type, dynamic] = 'module' in ref ? [ref.module, ref] : [ref, undefined];
    const controllers = [
      ...((Reflect.getMetadata('controllers', type) as Type[] | undefined) ?? []),
      ...(dynamic?.controllers ?? []),
    ];
    controllers.forEach((c) => found.add(c));
    const imports = [
      ...((Reflect.getMetadata('imports', type) as ModuleRef[] | undefined) ?? []),
      ...((dynamic?.imports as ModuleRef[] | undefined) ?? []),
    ];
    imports.forEach(visit);
  };
  modules.forEach(visit);
  return found;
}

/** The routes of every role and the platform module, as their decorators declare them. */
export function servedRoutes(): ServedRoute[] {
  const platform = PlatformModule.forRoot({
    config: loadConfig({}),
    roles: ALL_ROLES.map((r) => r.name),
    logger: createLogger({ component: 'test' }, 'error'),
  });
  const reflector = new Reflector();
  const routes: ServedRoute[] = [];
  for (const controller of controllersOf([platform, ...ALL_ROLES.map((r) => r.module)])) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      const path = `/${base}/${String(Reflect.getMetadata(PATH_METADATA, handler))}`
        .replace(/\/+/g, '/')
        .replace(/(.)\/$/, '$1');
      const route = `${method} ${path}`;
      routes.push({
        route,
        access: routeAccess(reflector, [handler, controller]),
        handler: `${controller.name}.${name}`,
      });
    }
  }
  return routes;
}
