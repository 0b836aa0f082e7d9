import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';

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
  const port = await listenOutsideEphemeralRange(server);
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
  return { port, cut, mend: listen, close: cut };
}

/**
 * While cut, the relay's port is free. A port from the kernel's ephemeral range could then be handed to any socket of
 * a test running alongside (a server listening on port 0 answered a health check in a cut registry's place, once), so
 * the relay takes a port below that range, which only an explicit bind can get.
 */
async function listenOutsideEphemeralRange(server: Server): Promise<number> {
  const lowest = ephemeralRangeStart();
  for (let tries = 0; ; tries++) {
    const port = 10_000 + Math.floor(Math.random() * (lowest - 10_000));
    server.listen(port, '127.0.0.1');
    const [error] = (await Promise.race([
      once(server, 'listening').then(() => [undefined]),
      once(server, 'error'),
    ])) as [Error | undefined];
    if (!error) return port;
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || tries > 50) throw error;
  }
}

function ephemeralRangeStart(): number {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return start > 11_000 ? start : 32_768;
  } catch {
    return 32_768;
  }
}
