import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApiClient } from './client.js';

/** A stand-in server: answers every request with the next of `tokens` as Consistency-Token, records what was sent. */
function server(tokens: (string | null)[]) {
  const sent: (string | null)[] = [];
  const fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    sent.push(request.headers.get('consistency-token'));
    const token = tokens.shift() ?? null;
    return Promise.resolve(Response.json({}, { status: 200, headers: token ? { 'consistency-token': token } : {} }));
  };
  return { sent, fetch };
}

describe('the typed client reads its own writes', () => {
  const id = '7d444840-9dc0-11d1-b245-5ffdce74fad2';

  it('sends the newest token a response carried on every later request', async () => {
    const { sent, fetch } = server(['0/200', null, '0/100', null, 'A/0', null]);
    const client = createApiClient({ baseUrl: 'http://api.test', fetch });
    for (let i = 0; i < 6; i++) await client.GET('/v1/runs/{id}', { params: { path: { id } } });
    assert.deepEqual(
      sent,
      [null, '0/200', '0/200', '0/200', '0/200', 'A/0'],
      'an older token never replaces a newer one',
    );
  });

  it('leaves a token the caller set alone, and sends none when turned off', async () => {
    const first = server(['0/200', null]);
    const client = createApiClient({ baseUrl: 'http://api.test', fetch: first.fetch });
    await client.GET('/v1/runs/{id}', { params: { path: { id } } });
    await client.GET('/v1/runs/{id}', { params: { path: { id }, header: { 'consistency-token': '0/1' } } });
    assert.deepEqual(first.sent, [null, '0/1']);

    const off = server(['0/200', null]);
    const plain = createApiClient({ baseUrl: 'http://api.test', fetch: off.fetch, readYourWrites: false });
    await plain.GET('/v1/runs/{id}', { params: { path: { id } } });
    await plain.GET('/v1/runs/{id}', { params: { path: { id } } });
    assert.deepEqual(off.sent, [null, null]);
  });
});
