import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createSchemaRegistry, EventCodec } from './event-codec.js';
import { readSchemaFiles } from './schema-files.js';
import { TopicNames } from './topic-contract.js';

describe('EventCodec against a registry that takes requests and never answers', () => {
  it('gives up after its attempts instead of waiting forever', async () => {
    const seen: string[] = [];
    const hung: IncomingMessage[] = [];
    const server = createServer((request) => {
      seen.push(`${request.method} ${request.url}`);
      hung.push(request);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const codec = new EventCodec(createSchemaRegistry(url, 200), new TopicNames('hung.'), await readSchemaFiles());
      const started = Date.now();
      await assert.rejects(codec.registerAll(), /timeout/i);
      // Three attempts of one 200 ms request each (the client's own retries do not retry timeouts).
      assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
      assert.equal(seen.length, 3, seen.join(', '));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
