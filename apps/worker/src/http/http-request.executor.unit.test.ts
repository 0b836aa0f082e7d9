import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import type { ServerResponse } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import type { NodeConfigs } from '#libs/workflows';
import type { ExecutionResult } from '../execution-result.js';
import { executeHttpRequest, type HttpExecutorOptions, type HttpTaskContext } from './http-request.executor.js';
import { reply, startTestHttpServer, type SeenRequest } from './test-http-server.js';

const KEY = 'run-1:fetch:2';
const ctx: HttpTaskContext = { runId: 'run-1', nodeId: 'fetch', attempt: 2, deadlineAt: null, input: {} };
const options: HttpExecutorOptions = {
  allowedHosts: ['127.0.0.1'],
  defaultTimeoutMs: 5000,
  maxResponseBytes: 1000,
  maxRedirects: 5,
};

async function server(t: TestContext, handle: (request: SeenRequest, response: ServerResponse) => void) {
  const started = await startTestHttpServer(handle);
  t.after(() => started.close());
  return started;
}

function run(config: NodeConfigs['http_request'], overrides: Partial<HttpExecutorOptions> = {}) {
  return executeHttpRequest(config, ctx, { ...options, ...overrides });
}

function errorOf(result: ExecutionResult): string {
  assert.equal(result.ok, false, `expected a failure, got ${JSON.stringify(result)}`);
  return result.ok ? '' : result.error;
}

function outputOf(result: ExecutionResult): unknown {
  assert.equal(result.ok, true, `expected success, got ${JSON.stringify(result)}`);
  return result.ok ? result.output : undefined;
}

/** A resolver for made-up names, counting its calls: stands in for a DNS server that points names anywhere. */
function fakeDns(answers: Record<string, string[]>) {
  const calls: string[] = [];
  const resolve = (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const addresses = answers[hostname];
    if (!addresses) return Promise.reject(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
    return Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  return { resolve, calls };
}

describe('executeHttpRequest: requests and responses', () => {
  it('sends a JSON body and returns the parsed JSON response with status and selected headers', async (t) => {
    const api = await server(t, (_request, response) => {
      response.setHeader('set-cookie', 'session=secret');
      response.setHeader('etag', '"v1"');
      reply(response, 201, 'application/json; charset=utf-8', JSON.stringify({ id: 7, tags: ['a'] }));
    });
    const result = await run({ method: 'POST', url: `${api.origin}/items?x=1`, body: { name: 'n', n: 1 } });

    assert.deepEqual(outputOf(result), {
      status: 201,
      headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': '21', etag: '"v1"' },
      body: { id: 7, tags: ['a'] },
    });
    const [seen] = api.requests;
    assert.equal(seen?.method, 'POST');
    assert.equal(seen?.path, '/items?x=1');
    assert.equal(seen?.headers['content-type'], 'application/json');
    assert.equal(seen?.body, '{"name":"n","n":1}');
  });

  it('sends a string body as text and returns a text response as a string', async (t) => {
    const api = await server(t, (_request, response) => reply(response, 200, 'text/plain; charset=utf-8', 'héllo'));
    const result = await run({
      method: 'PUT',
      url: api.origin,
      headers: { 'X-Trace': 'abc' },
      body: 'raw text',
    });

    assert.deepEqual(outputOf(result), {
      status: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '6' },
      body: 'héllo',
    });
    assert.equal(api.requests[0]?.body, 'raw text');
    assert.equal(api.requests[0]?.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(api.requests[0]?.headers['x-trace'], 'abc');
  });

  it('keeps a content-type the author set, and sends no body with GET', async (t) => {
    const api = await server(t, (_request, response) => reply(response, 200, 'application/json', ''));
    const put = await run({
      method: 'PUT',
      url: api.origin,
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { a: null },
    });
    assert.equal((outputOf(put) as { body: unknown }).body, null, 'an empty JSON body reads as null');
    const get = await run({ method: 'GET', url: api.origin, body: { ignored: true } });
    outputOf(get);

    assert.equal(api.requests[0]?.headers['content-type'], 'application/merge-patch+json');
    assert.equal(api.requests[0]?.body, '{"a":null}');
    assert.equal(api.requests[1]?.method, 'GET');
    assert.equal(api.requests[1]?.body, '');
    assert.equal(api.requests[1]?.headers['content-type'], undefined);
  });

  it('sends Idempotency-Key run:node:attempt, which the author cannot override', async (t) => {
    const api = await server(t, (_request, response) => reply(response, 204, 'text/plain', ''));
    const result = await run({ method: 'DELETE', url: api.origin, headers: { 'IDEMPOTENCY-KEY': 'mine' } });

    assert.equal((outputOf(result) as { status: number }).status, 204);
    // node:http joins repeated headers with ", ", so this also proves the author's value was not sent beside ours.
    assert.equal(api.requests[0]?.headers['idempotency-key'], KEY);
  });

  it('fails on a non-2xx status, quoting the first 200 characters of the body', async (t) => {
    const api = await server(t, (request, response) => {
      if (request.path === '/empty') return reply(response, 503, 'text/plain', '');
      reply(response, 500, 'text/plain', `boom ${'x'.repeat(5000)}`);
    });

    assert.equal(
      errorOf(await run({ method: 'GET', url: api.origin })),
      `HTTP 500 Internal Server Error: boom ${'x'.repeat(195)}`,
    );
    assert.equal(errorOf(await run({ method: 'GET', url: `${api.origin}/empty` })), 'HTTP 503 Service Unavailable');
  });

  it('fails on a JSON content-type whose body does not parse', async (t) => {
    const api = await server(t, (_request, response) => reply(response, 200, 'application/problem+json', '{"a":'));
    assert.equal(
      errorOf(await run({ method: 'GET', url: api.origin })),
      'response is application/problem+json but not valid JSON',
    );
  });

  it('fails, without throwing, when nothing listens', async (t) => {
    const closed = await server(t, () => undefined);
    await closed.close();
    assert.match(
      errorOf(await run({ method: 'GET', url: closed.origin })),
      /^GET 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/,
    );
  });
});

describe('executeHttpRequest: time and size bounds', () => {
  it('times out after defaultTimeoutMs when the server never answers', async (t) => {
    const api = await server(t, () => undefined);
    const started = Date.now();
    const error = errorOf(await run({ method: 'POST', url: api.origin, body: {} }, { defaultTimeoutMs: 300 }));

    const elapsed = Date.now() - started;
    assert.equal(error, `POST 127.0.0.1:${api.port} timed out after 300 ms`);
    assert.ok(elapsed >= 290 && elapsed < 2000, `took ${elapsed} ms`);
  });

  it('times out at the task deadline when it comes first, also while the body is still arriving', async (t) => {
    const api = await server(t, (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('first chunk, then silence');
    });
    const started = Date.now();
    const result = await executeHttpRequest(
      { method: 'GET', url: api.origin },
      { ...ctx, deadlineAt: started + 300 },
      {
        ...options,
        defaultTimeoutMs: 60_000,
      },
    );

    const elapsed = Date.now() - started;
    assert.match(errorOf(result), /^GET 127\.0\.0\.1:\d+ timed out after \d+ ms$/);
    assert.ok(elapsed >= 250 && elapsed < 2000, `took ${elapsed} ms`);
  });

  it('fails at once when the deadline has already passed', async () => {
    const result = await executeHttpRequest(
      { method: 'GET', url: 'http://127.0.0.1:9/' },
      { ...ctx, deadlineAt: Date.now() - 1 },
      options,
    );
    assert.equal(errorOf(result), 'deadline passed before the request started');
  });

  it('fails on a body over the bound, and accepts one exactly at it', async (t) => {
    const api = await server(t, (request, response) => {
      const size = Number(request.path.slice(1));
      reply(response, 200, 'text/plain', 'x'.repeat(size));
    });

    assert.equal(errorOf(await run({ method: 'GET', url: `${api.origin}/1001` })), 'response larger than 1000 bytes');
    assert.equal(
      (outputOf(await run({ method: 'GET', url: `${api.origin}/1000` })) as { body: string }).body.length,
      1000,
    );
  });

  it('lets config.maxResponseBytes lower the bound but not raise it', async (t) => {
    const api = await server(t, (_request, response) => reply(response, 200, 'text/plain', 'x'.repeat(1500)));

    const lowered = await run({ method: 'GET', url: api.origin, maxResponseBytes: 100 });
    assert.equal(errorOf(lowered), 'response larger than 100 bytes');
    const raised = await run({ method: 'GET', url: api.origin, maxResponseBytes: 10_000 });
    assert.equal(errorOf(raised), 'response larger than 1000 bytes');
  });

  it('stops reading an endless body once it passes the bound', async (t) => {
    let stopped = false;
    const api = await server(t, (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      const pump = () => {
        while (!response.destroyed && response.write(Buffer.alloc(16_384, 1)));
        if (response.destroyed) stopped = true;
        else response.once('drain', pump);
      };
      response.on('close', () => (stopped = true));
      pump();
    });
    const started = Date.now();
    const error = errorOf(await run({ method: 'GET', url: api.origin }, { maxResponseBytes: 100_000 }));

    assert.equal(error, 'response larger than 100000 bytes');
    assert.ok(Date.now() - started < 2000, 'failed long before the 5 s timeout');
    await waitFor(() => stopped, 'the server saw the connection closed');
  });
});

describe('executeHttpRequest: SSRF guard', () => {
  it('refuses loopback, private and metadata literals unless allow-listed, before connecting', async (t) => {
    const api = await server(t, (_request, response) => reply(response, 200, 'text/plain', 'ok'));

    assert.equal(
      errorOf(await run({ method: 'GET', url: api.origin }, { allowedHosts: [] })),
      'refused: 127.0.0.1 is not allowed (loopback); allow it with SSRF_ALLOWED_HOSTS',
    );
    assert.equal(
      errorOf(await run({ method: 'GET', url: 'http://169.254.169.254/latest/meta-data/' }, { allowedHosts: [] })),
      'refused: 169.254.169.254 is not allowed (cloud metadata endpoint); allow it with SSRF_ALLOWED_HOSTS',
    );
    assert.match(errorOf(await run({ method: 'GET', url: 'http://[::1]:1/' })), /^refused: \[::1\] is not allowed/);
    assert.match(errorOf(await run({ method: 'GET', url: 'http://10.0.0.1/' })), /not allowed \(private\)/);
    assert.equal(api.requests.length, 0);

    outputOf(await run({ method: 'GET', url: api.origin }, { allowedHosts: ['127.0.0.1'] }));
    assert.equal(api.requests.length, 1);
  });

  it('refuses a name that resolves to loopback, judging the address it would connect to', async (t) => {
    const api = await server(t, (_request, response) => reply(response, 200, 'text/plain', 'ok'));
    const dns = fakeDns({ 'api.example.test': ['127.0.0.1'], 'mixed.example.test': ['93.184.215.14', '10.1.2.3'] });

    assert.equal(
      errorOf(await run({ method: 'GET', url: `http://localhost:${api.port}/` }, { allowedHosts: ['127.0.0.1'] })),
      'refused: localhost is not allowed (localhost); allow it with SSRF_ALLOWED_HOSTS',
    );
    const url = `http://api.example.test:${api.port}/`;
    assert.equal(
      errorOf(await run({ method: 'GET', url }, { allowedHosts: [], resolve: dns.resolve })),
      'refused: api.example.test resolves to 127.0.0.1 (loopback); allow it with SSRF_ALLOWED_HOSTS',
    );
    assert.equal(
      errorOf(await run({ method: 'GET', url: 'http://mixed.example.test/' }, { resolve: dns.resolve })),
      'refused: mixed.example.test resolves to 10.1.2.3 (private); allow it with SSRF_ALLOWED_HOSTS',
    );
    assert.equal(api.requests.length, 0, 'refused before connecting');

    dns.calls.length = 0;
    outputOf(await run({ method: 'GET', url }, { allowedHosts: ['127.0.0.1'], resolve: dns.resolve }));
    assert.deepEqual(dns.calls, ['api.example.test'], 'resolved once: the address checked is the one connected to');
    outputOf(await run({ method: 'GET', url }, { allowedHosts: ['api.example.test'], resolve: dns.resolve }));
    assert.equal(api.requests.length, 2);
  });

  it('resolves real names through the guarded lookup', async (t) => {
    const api = await server(t, (_request, response) => reply(response, 200, 'text/plain', 'ok'));
    const result = await run({ method: 'GET', url: `http://localhost:${api.port}/` }, { allowedHosts: ['localhost'] });
    assert.equal((outputOf(result) as { body: string }).body, 'ok');
  });
});

describe('executeHttpRequest: redirects', () => {
  it('follows redirects like a browser, each hop carrying the idempotency key', async (t) => {
    const other = await server(t, (_request, response) => reply(response, 200, 'application/json', '{"done":true}'));
    const api = await server(t, (request, response) => {
      const location = { '/start': '/keep', '/keep': 'see-other', '/see-other': `${other.origin}/landing` }[
        request.path
      ];
      const status = { '/start': 307, '/keep': 303, '/see-other': 302 }[request.path];
      response.writeHead(status ?? 404, location ? { location } : {});
      response.end();
    });
    const result = await run({
      method: 'POST',
      url: `${api.origin}/start`,
      headers: { authorization: 'Bearer secret' },
      body: { a: 1 },
    });

    assert.deepEqual((outputOf(result) as { body: unknown }).body, { done: true });
    const hops = [...api.requests, ...other.requests];
    assert.deepEqual(
      hops.map((hop) => [hop.method, hop.path, hop.body, hop.headers['idempotency-key']]),
      [
        ['POST', '/start', '{"a":1}', KEY],
        ['POST', '/keep', '{"a":1}', KEY],
        ['GET', '/see-other', '', KEY],
        ['GET', '/landing', '', KEY],
      ],
    );
    assert.equal(api.requests[2]?.headers.authorization, 'Bearer secret', 'same origin keeps credentials');
    assert.equal(other.requests[0]?.headers.authorization, undefined, 'another origin gets none');
    assert.equal(api.requests[2]?.headers['content-type'], undefined, 'a GET after 303 has no body to type');
  });

  it('refuses a redirect from an allowed host to a forbidden one', async (t) => {
    const targets: Record<string, string> = {
      '/metadata': 'http://169.254.169.254/latest/meta-data/',
      '/rebind': '', // filled in once the port is known
    };
    const api = await server(t, (request, response) => {
      response.writeHead(302, { location: targets[request.path] });
      response.end();
    });
    targets['/rebind'] = `http://rebind.example.test:${api.port}/`;
    const dns = fakeDns({ 'api.example.test': ['127.0.0.1'], 'rebind.example.test': ['127.0.0.1'] });
    const allowApiOnly = { allowedHosts: ['api.example.test'], resolve: dns.resolve };

    assert.equal(
      errorOf(await run({ method: 'GET', url: `http://api.example.test:${api.port}/metadata` }, allowApiOnly)),
      'refused: 169.254.169.254 is not allowed (cloud metadata endpoint) (reached by redirect); ' +
        'allow it with SSRF_ALLOWED_HOSTS',
    );
    assert.equal(
      errorOf(await run({ method: 'GET', url: `http://api.example.test:${api.port}/rebind` }, allowApiOnly)),
      'refused: rebind.example.test resolves to 127.0.0.1 (loopback) (reached by redirect); ' +
        'allow it with SSRF_ALLOWED_HOSTS',
    );
    assert.deepEqual(
      api.requests.map((request) => request.path),
      ['/metadata', '/rebind'],
      'only the allowed first hops reached the server',
    );
  });

  it('fails after maxRedirects hops', async (t) => {
    const api = await server(t, (request, response) => {
      response.writeHead(302, { location: `/${Number(request.path.slice(1)) + 1}` });
      response.end();
    });
    const result = await run({ method: 'GET', url: `${api.origin}/0` }, { maxRedirects: 3 });

    assert.equal(errorOf(result), 'too many redirects (more than 3)');
    assert.deepEqual(
      api.requests.map((request) => [request.path, request.headers['idempotency-key']]),
      [
        ['/0', KEY],
        ['/1', KEY],
        ['/2', KEY],
        ['/3', KEY],
      ],
    );
  });

  it('fails on a redirect to a non-http URL', async (t) => {
    const api = await server(t, (_request, response) => {
      response.writeHead(301, { location: 'file:///etc/passwd' });
      response.end();
    });
    assert.equal(
      errorOf(await run({ method: 'GET', url: api.origin })),
      'redirect to a non-http URL: file:///etc/passwd',
    );
  });
});

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (const started = Date.now(); !condition(); await new Promise((resolve) => setTimeout(resolve, 10))) {
    if (Date.now() - started > 2000) assert.fail(`timed out waiting until ${what}`);
  }
}
