import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Registry } from 'prom-client';
import { loadConfig } from '#libs/config';
import { createLogger } from '#libs/observability';
import { Public, ProblemError } from '#libs/platform';
import { ApiKeyGuard, Requires } from './api-key.guard.js';
import type { ApiKeysRepository } from './api-keys.repository.js';
import { PrincipalCache } from './principal-cache.js';
import type { RateLimits } from './rate-limits.js';

class Routes {
  @Requires('read')
  declared(): void {}

  @Public()
  open(): void {}

  forgotten(): void {}
}

const keys = {
  findByKey: (key: string) =>
    Promise.resolve(
      key === 'good' ? { keyId: 'k', workspaceId: 'w', permission: 'read' as const, label: null } : undefined,
    ),
} as unknown as ApiKeysRepository;
const limits = { take: () => Promise.resolve() } as unknown as RateLimits;
const guard = new ApiKeyGuard(
  new Reflector(),
  keys,
  limits,
  new PrincipalCache({ knownTtlMs: 0, unknownTtlMs: 0, maxEntries: 1 }),
  loadConfig({}),
  createLogger({ component: 'test' }, 'fatal'),
  new Registry(),
);

const http = (handler: keyof Routes, key?: string): ExecutionContext =>
  ({
    getType: () => 'http',
    getHandler: () => Object.getOwnPropertyDescriptor(Routes.prototype, handler)?.value as unknown,
    getClass: () => Routes,
    switchToHttp: () => ({
      getRequest: () => ({ ip: '127.0.0.1', url: '/x', headers: key ? { authorization: `Bearer ${key}` } : {} }),
    }),
  }) as unknown as ExecutionContext;

describe('ApiKeyGuard: deny by default', () => {
  it('refuses a route that declares neither @Requires nor @Public, even with a valid key', async () => {
    await assert.rejects(
      guard.canActivate(http('forgotten', 'good')),
      (error: unknown) => error instanceof ProblemError && error.code === 'forbidden',
    );
  });

  it('lets anyone call a @Public route, and a key with the permission a @Requires route', async () => {
    assert.equal(await guard.canActivate(http('open')), true);
    assert.equal(await guard.canActivate(http('declared', 'good')), true);
    await assert.rejects(
      guard.canActivate(http('declared')),
      (error: unknown) => error instanceof ProblemError && error.code === 'unauthenticated',
    );
  });

  it('leaves the Kafka transports alone', async () => {
    const rpc = { ...http('forgotten'), getType: () => 'rpc' } as unknown as ExecutionContext;
    assert.equal(await guard.canActivate(rpc), true);
  });
});
