import { Redis } from 'ioredis';
import { trackResource } from '#libs/resources';

/** An ioredis client that shows up in the open-resources ledger until `quit()`/`disconnect()`. */
export function createRedis(url: string, name: string): Redis {
  const client = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
  });
  const release = trackResource('redis', name);
  client.once('end', release);
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  client.on('error', () => undefined);
  return client;
}
