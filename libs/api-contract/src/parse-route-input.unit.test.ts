import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { parseRouteInput } from './parse-route-input.js';
import { defineRoute } from './route.js';
import { idParam, limitQuery } from './common.js';

const route = defineRoute({
  operationId: 'sample',
  method: 'post',
  path: '/v1/things/{id}',
  tag: 'test',
  summary: 'a sample',
  access: 'write',
  params: z.object({ id: idParam('thing') }),
  query: z.object({ limit: limitQuery }),
  body: z.object({ list: z.array(z.object({ 'odd key': z.string() })), flag: z.boolean().optional() }),
  bodyOptional: true,
  status: 202,
  response: { description: 'ok' },
});

const ID = 'A1B2C3D4-0000-4000-8000-000000000000';
const raw = (over: Partial<Record<'params' | 'query' | 'headers' | 'body', unknown>>) => ({
  params: { id: ID },
  query: {},
  headers: {},
  body: { list: [] },
  ...over,
});

describe('parseRouteInput', () => {
  it('returns the parts typed, coerced and defaulted (ids lower-cased, limit 100)', () => {
    const parsed = parseRouteInput(route, raw({ query: { limit: '7' } }));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.params.id, ID.toLowerCase());
    assert.equal(parsed.value.query.limit, 7);
    const defaulted = parseRouteInput(route, raw({}));
    assert.equal(defaulted.ok ? defaulted.value.query.limit : undefined, 100);
  });

  it('names a path parameter that names nothing with its value, before looking at the rest', () => {
    const parsed = parseRouteInput(route, raw({ params: { id: 'nope' }, query: { limit: 'x' }, body: 5 }));
    assert.deepEqual(parsed, { ok: false, part: 'params', errors: ['id: no thing'], detail: 'no thing "nope"' });
  });

  it('says where in the body a problem is, as the client’s JSON reads', () => {
    const parsed = parseRouteInput(route, raw({ body: { list: [{ 'odd key': 'a' }, { 'odd key': 1 }], flag: 'y' } }));
    assert.equal(parsed.ok, false);
    assert.ok(!parsed.ok);
    assert.equal(parsed.part, 'body');
    assert.deepEqual(
      parsed.errors.map((e) => e.split(':')[0]),
      ['list[1]["odd key"]', 'flag'],
    );
  });

  it('reads a left-out optional body as {}, but refuses a body that is not an object', () => {
    assert.equal(parseRouteInput(route, raw({ body: undefined })).ok, false, '{} lacks the required list');
    const optional = defineRoute({ ...route, body: z.object({ flag: z.boolean().optional() }) });
    assert.ok(parseRouteInput(optional, raw({ body: null })).ok);
    for (const body of [[], 'text', 3]) {
      const parsed = parseRouteInput(optional, raw({ body }));
      assert.deepEqual(parsed, { ok: false, part: 'body', errors: [], detail: 'the body must be a JSON object' });
    }
  });

  it('refuses a bad query value naming it', () => {
    const parsed = parseRouteInput(route, raw({ query: { limit: '5000' } }));
    assert.deepEqual(parsed.ok ? undefined : parsed.errors, ['limit: must be an integer from 1 to 1000']);
  });
});
