import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { followEventStream, StreamLost, StreamRefused, type StreamEvent } from './event-stream.js';

/** An SSE server whose handler decides per connection what to send and how to end. */
async function sseServer(handle: (request: IncomingMessage, response: ServerResponse, connection: number) => void) {
  let connections = 0;
  const server = createServer((request, response) => handle(request, response, ++connections));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/events`;
  return {
    url,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const sse = (response: ServerResponse, ids: number[], last?: string) => {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  response.write('retry: 10\n\n');
  for (const id of ids)
    response.write(`id: ${id}\nevent: ${id === ids.at(-1) && last ? last : 'tick'}\ndata: {"n":${id}}\n\n`);
};

const collect = async (stream: AsyncGenerator<StreamEvent>) => {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
};

describe('followEventStream: Server-Sent Events over fetch, resumed with Last-Event-ID', () => {
  const servers: { close(): Promise<void> }[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  it('resumes after a cut connection from the last id, with no event lost or repeated', async () => {
    const seen: (string | undefined)[] = [];
    const server = await sseServer((request, response, connection) => {
      seen.push(request.headers['last-event-id'] as string | undefined);
      if (connection === 1) {
        sse(response, [1, 2, 3]);
        // The connection dies mid-stream (a proxy restart, a network cut).
        setTimeout(() => response.socket?.resetAndDestroy(), 20);
      } else if (connection === 2) {
        sse(response, [4, 5]);
        response.end(); // closed cleanly but early: still not the end of the run
      } else {
        sse(response, [6, 7], 'run.completed');
      }
    });
    servers.push(server);
    const reconnects: (string | undefined)[] = [];
    const events = await collect(
      followEventStream({
        open: (lastEventId, signal) =>
          fetch(server.url, {
            headers: lastEventId ? { 'last-event-id': lastEventId } : {},
            ...(signal ? { signal } : {}),
          }),
        isLast: (event) => event.event === 'run.completed',
        onReconnect: ({ lastEventId }) => reconnects.push(lastEventId),
      }),
    );
    assert.deepEqual(
      events.map((e) => e.id),
      ['1', '2', '3', '4', '5', '6', '7'],
    );
    assert.deepEqual(seen, [undefined, '3', '5']);
    assert.deepEqual(reconnects, ['3', '5']);
    assert.equal(events.at(-1)?.event, 'run.completed');
    assert.equal(events[0]?.data, '{"n":1}');
  });

  it('ends on 204 (nothing after that id) and starts after a given id', async () => {
    const server = await sseServer((request, response) => {
      if (request.headers['last-event-id'] === '9') {
        response.writeHead(204).end();
        return;
      }
      sse(response, [9]);
      response.end();
    });
    servers.push(server);
    const open = (lastEventId: string | undefined) =>
      fetch(server.url, { headers: lastEventId ? { 'last-event-id': lastEventId } : {} });
    assert.deepEqual(await collect(followEventStream({ open, lastEventId: '9' })), []);
    const events = await collect(followEventStream({ open }));
    assert.deepEqual(
      events.map((e) => e.id),
      ['9'],
    );
  });

  it('throws StreamRefused on a 4xx, and StreamLost after retries that bring nothing', async () => {
    const refusing = await sseServer((_request, response) => response.writeHead(404).end('{"title":"Not found"}'));
    servers.push(refusing);
    await assert.rejects(collect(followEventStream({ open: () => fetch(refusing.url) })), (error: unknown) => {
      assert.ok(error instanceof StreamRefused);
      assert.equal(error.response.status, 404);
      return true;
    });
    assert.equal(refusing.connections(), 1, 'a refusal is not retried');

    const failing = await sseServer((_request, response) => response.writeHead(503).end());
    servers.push(failing);
    await assert.rejects(
      collect(followEventStream({ open: () => fetch(failing.url), maxRetries: 2, retryMs: 5 })),
      StreamLost,
    );
    assert.equal(failing.connections(), 3);
  });
});
