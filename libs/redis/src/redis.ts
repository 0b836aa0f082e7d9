import { once } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import { trackResource } from '#libs/resources';

/**
 * An ioredis client that shows up in the open-resources ledger until `quit()`/`disconnect()` has closed it. Commands
 * sent while it is not connected fail at once (no offline queue); `options` may add e.g. a `commandTimeout`.
 */
export function createRedis(
  url: string,
  name: string,
  options: Pick<RedisOptions, 'commandTimeout' | 'connectTimeout' | 'enableAutoPipelining'> = {},
): Redis {
  const client = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
    ...options,
  });
  const release = trackResource('redis', name);
  client.once('end', release);
  // ioredis resolves quit() on the server's OK, before the socket is closed; callers mean "closed" when they await it.
  const quit = client.quit.bind(client);
  const disconnect = client.disconnect.bind(client);
  client.disconnect = (reconnect = false) => {
    disconnect(reconnect);
    // A client that never connected ends without an 'end' event.
    if (!reconnect) release();
  };
  client.quit = async () => {
    if (client.status !== 'ready') {
      client.disconnect();
      return 'OK';
    }
    const ended = once(client, 'end');
    const reply = await quit();
    await ended;
    return reply;
  };
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  client.on('error', () => undefined);
  return client;
}
