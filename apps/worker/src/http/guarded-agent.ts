import { promises as dns, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent } from 'undici';
import { isForbiddenHost } from '#libs/workflows';

/** Turns a hostname into the addresses a socket may connect to (node:dns `lookup` with `all: true` by default). */
export type ResolveHost = (hostname: string) => Promise<LookupAddress[]>;

export const resolveWithDns: ResolveHost = (hostname) => dns.lookup(hostname, { all: true });

/** Raised inside the socket's lookup when a name resolves to an address the SSRF guard refuses. */
export class ResolvedAddressRefused extends Error {
  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(`${hostname} resolves to ${address} (${reason})`);
  }
}

/**
 * An undici Agent whose sockets only reach addresses the SSRF guard accepts. The check runs in the socket's own
 * `lookup`, so the address judged is the address connected to: there is no second resolution for DNS rebinding to
 * slip a loopback answer into. IP-literal hosts never reach `lookup` (node:net skips it), so the caller must judge
 * the URL's hostname itself before each request.
 */
export function createGuardedAgent(allowedHosts: readonly string[], resolve: ResolveHost): Agent {
  return new Agent({ connect: { lookup: guardedLookup(allowedHosts, resolve) } });
}

function guardedLookup(allowedHosts: readonly string[], resolve: ResolveHost): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        // One refused address refuses the name: a host that mixes public and private answers is not one to trust.
        for (const { address } of addresses) {
          const reason = isForbiddenHost(hostname, allowedHosts, address);
          if (reason !== null) return callback(new ResolvedAddressRefused(hostname, address, reason), []);
        }
        const [first] = addresses;
        if (first === undefined) return callback(notFound(hostname), []);
        // node:net asks for every address when it races IPv4 and IPv6 (autoSelectFamily), for one otherwise.
        if (options.all === true) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  };
}

function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
}
