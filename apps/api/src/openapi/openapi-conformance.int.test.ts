import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ALL_ROLES } from '#apps/all-in-one/src/all-roles.js';
import { API_ROUTES, EXAMPLE_IDS, type ApiRoute, type OpenApiDocument } from '#libs/api-contract';
import { useTestContext } from '#test/harness/test-context.js';
import { ADMIN_KEY, createTopics, eventually, startRoles, untilReady } from '#test/support/app.js';

/**
 * The document against the API that serves it: valid OpenAPI 3.1, every example valid against its own schema, and
 * every example request, sent to the running API (all roles), answered with the documented status and a body the
 * documented schema accepts.
 */
const ctx = useTestContext('openapi-conformance');
const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

describe('the OpenAPI document, checked against the running API', () => {
  let base = '';
  let doc: OpenApiDocument;
  const ajv = new Ajv2020({ strict: false, discriminator: true, allErrors: true });
  addFormats.default(ajv);

  const call = (method: string, path: string, body?: unknown, signal?: AbortSignal) =>
    fetch(`${base}${path}`, {
      method: method.toUpperCase(),
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });

  /** Checks `value` against the schema at a JSON pointer into the document; the failures, or []. */
  const schemaErrors = (at: string, value: unknown): string[] => {
    const validate = ajv.getSchema(`openapi.json#/${at}`);
    assert.ok(validate, `no schema at ${at}`);
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };

  before(async () => {
    await createTopics(ctx);
    const app = await startRoles(ctx, ALL_ROLES);
    await app.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.app.getHttpServer().address() as { port: number }).port}`;
    doc = (await (await fetch(`${base}/v1/openapi.json`)).json()) as OpenApiDocument;
    ajv.addSchema(doc, 'openapi.json');
  });

  it('is a valid OpenAPI 3.1 document with every route of the contract in it', async () => {
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    assert.deepEqual(result, { valid: true });
    assert.equal(doc.openapi, '3.1.0');
    for (const route of API_ROUTES) {
      assert.ok(doc.paths?.[route.path]?.[route.method], `${route.method} ${route.path} missing`);
    }
  });

  it('has only request body examples their own schema accepts', () => {
    let checked = 0;
    for (const route of API_ROUTES.filter((r) => r.example?.body !== undefined)) {
      const at = pointer('paths', route.path, route.method, 'requestBody', 'content', 'application/json', 'schema');
      assert.deepEqual(schemaErrors(at, route.example?.body), [], `${route.operationId}'s example body`);
      checked++;
    }
    assert.ok(checked >= 6, `only ${checked} body examples`);
  });

  it('answers every example request with the documented status and a body its schema accepts', async () => {
    // The resources the examples name, created for real; the examples' ids are replaced by these.
    const created = await (await call('post', '/v1/workflows', exampleOf('createWorkflow').body)).json();
    const workflowId = (created as { id: string }).id;
    const patch = (await (
      await call('post', `/v1/workflows/${workflowId}/patches`, exampleOf('submitPatch').body)
    ).json()) as { patchId: string };
    const run = (await (await call('post', `/v1/workflows/${workflowId}/runs`, exampleOf('startRun').body)).json()) as {
      runId: string;
    };
    const key = (await (await call('post', '/v1/api-keys', { permission: 'read' })).json()) as { id: string };
    const stats = (await (await call('get', '/v1/cache/stats')).json()) as { workspaceId: string };
    const ids: Record<string, string> = {
      [EXAMPLE_IDS.workflow]: workflowId,
      [EXAMPLE_IDS.patch]: patch.patchId,
      [EXAMPLE_IDS.run]: run.runId,
      [EXAMPLE_IDS.apiKey]: key.id,
      [EXAMPLE_IDS.workspace]: stats.workspaceId,
    };
    const real = <T>(value: T): T =>
      JSON.parse(
        JSON.stringify(value).replace(/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/g, (id) => ids[id] ?? id),
      ) as T;
    // The approval example needs its hitl node waiting, and /readyz the consumer groups joined.
    await eventually(async () => {
      const state = (await (await call('get', `/v1/runs/${run.runId}`)).json()) as { status: string };
      return state.status === 'waiting' ? true : undefined;
    }, 'the example run to wait for its approval');
    await untilReady(base);

    // Reads first, then writes, then deletes: the approval and the revocation end what the others read.
    const order = { get: 0, post: 1, delete: 2 } as const;
    const failures: string[] = [];
    for (const route of [...API_ROUTES].sort((a, b) => order[a.method] - order[b.method])) {
      const example = real(route.example);
      assert.ok(example, `${route.operationId} has no example`);
      let path: string = route.path;
      for (const [name, value] of Object.entries(example.params ?? {})) path = path.replace(`{${name}}`, value);
      const query = new URLSearchParams(example.query ?? {}).toString();
      const abort = new AbortController();
      const response = await call(route.method, query ? `${path}?${query}` : path, example.body, abort.signal);
      const contentType = response.headers.get('content-type') ?? '';
      const where = `${route.operationId} (${route.method.toUpperCase()} ${path})`;
      if (response.status !== route.status) {
        failures.push(`${where}: ${response.status}, documented ${route.status}: ${await response.text()}`);
        continue;
      }
      if (!response.body || route.status === 204) continue;
      if (!contentType.startsWith('application/json')) {
        // Streams, pages, scripts, metrics: the documented media type, not read to the end.
        abort.abort();
        const documented = route.response.contentType ?? 'application/json';
        if (documented !== 'application/javascript' && !contentType.startsWith(documented)) {
          failures.push(`${where}: content-type ${contentType}, documented ${documented}`);
        }
        continue;
      }
      const at = pointer('paths', route.path, route.method, 'responses', String(route.status), 'content');
      const errors = schemaErrors(`${at}/application~1json/schema`, await response.json());
      if (errors.length) failures.push(`${where}: ${errors.join('; ')}`);
    }
    assert.deepEqual(failures, []);
  });
});

function exampleOf(operationId: string): NonNullable<ApiRoute['example']> {
  const route = API_ROUTES.find((r) => r.operationId === operationId);
  assert.ok(route?.example, `no example for ${operationId}`);
  return route.example;
}
