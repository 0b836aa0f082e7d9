import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, request } from 'node:http';
import { connect, createServer as createH2cServer } from 'node:http2';
import type { AddressInfo, Server } from 'node:net';
import { describe, it } from 'node:test';
import { responseGone } from './response-gone.js';

type Response = Parameters<typeof responseGone>[0];

/** Holds one response open, lets the client leave, and reports responseGone before and after it left. */
async function goneWhenClientLeaves(server: Server, open: (port: number) => () => void): Promise<[boolean, boolean]> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const leave = open((server.address() as AddressInfo).port);
    const [, res] = (await once(server, 'request')) as [unknown, Response];
    (res as import('node:http').ServerResponse).writeHead(200).write('open');
    const before = responseGone(res);
    leave();
    await once(res, 'close');
    return [before, responseGone(res)];
  } finally {
    server.close();
  }
}

describe('responseGone', () => {
  it('sees an HTTP/1.1 client leave', async () => {
    const result = await goneWhenClientLeaves(createHttpServer(), (port) => {
      const req = request({ port, host: '127.0.0.1' }, (res) => res.resume());
      req.on('error', () => undefined).end();
      return () => req.destroy();
    });
    assert.deepEqual(result, [false, true]);
  });

  it('sees an h2c client leave (an Http2ServerResponse has no destroyed of its own)', async () => {
    const result = await goneWhenClientLeaves(createH2cServer(), (port) => {
      const session = connect(`http://127.0.0.1:${port}`);
      session.on('error', () => undefined);
      session
        .request({ ':path': '/' })
        .on('error', () => undefined)
        .resume();
      return () => session.destroy();
    });
    assert.deepEqual(result, [false, true]);
  });
});
