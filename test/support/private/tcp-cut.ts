import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { freePort } from '../processes.js';

export interface TcpCut {
  readonly port: number;
  /** Stops listening and cuts every open connection: clients get resets, then refusals. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  mend(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP relay in front of a service, which a test can cut and mend: what the clients behind it see of a service
 * that stopped (connections reset, then refused) without stopping the service itself.
 */
export async function startTcpCut(upstreamPort: number): Promise<TcpCut> {
  const port = await freePort();
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = async () => {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
  };
  const cut = async () => {
    if (!server.listening) return;
    const closed = once(server, 'close');
    server.close();
    for (const socket of open) socket.resetAndDestroy();
    await closed;
  };
  await listen();
  return { port, cut, mend: listen, close: cut };
}
