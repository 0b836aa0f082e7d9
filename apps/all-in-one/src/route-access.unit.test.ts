import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API_ROUTES, routerPath } from '#libs/api-contract';
import { servedRoutes } from './served-routes.js';

const routes = servedRoutes();

describe('every HTTP route declares who may call it, and is the contract’s', () => {
  it('has @Requires(permission) or @Public() on each route of every role', () => {
    // The walk found the routes at all: a broken walk must not pass by finding nothing.
    for (const expected of ['GET /health', 'GET /metrics', 'POST /v1/workflows', 'GET /v1/runs/:id']) {
      assert.ok(
        routes.some((r) => r.route === expected),
        `${expected} not among ${routes.map((r) => r.route).join(', ')}`,
      );
    }
    const undeclared = routes.filter((r) => r.access === undefined).map((r) => `${r.route} (${r.handler})`);
    assert.deepEqual(undeclared, [], `routes with neither @Requires nor @Public:\n${undeclared.join('\n')}`);
  });

  it('serves exactly the routes of the API contract, each with the access the contract declares', () => {
    const served = new Map(routes.map((r) => [r.route, r.access]));
    const declared = new Map(API_ROUTES.map((r) => [`${r.method.toUpperCase()} /${routerPath(r)}`, r.access]));
    const undocumented = [...served.keys()].filter((route) => !declared.has(route));
    const unserved = [...declared.keys()].filter((route) => !served.has(route));
    assert.deepEqual(undocumented, [], 'served but not in libs/api-contract (so not in the OpenAPI document)');
    assert.deepEqual(unserved, [], 'in the contract but served by no role');
    const mismatched = [...declared].filter(([route, access]) => served.get(route) !== access);
    assert.deepEqual(mismatched, [], 'access in the contract differs from the route’s decorators');
  });
});
