import ipaddr from 'ipaddr.js';

/**
 * SSRF guard for http_request nodes (DESIGN §3 invariant 8): a workflow author must not make the platform call its own
 * loopback, private network, link-local or cloud metadata services. No node:net (ipaddr.js does the range checks), so
 * it runs in a browser too.
 *
 * Without `resolvedAddress` it judges a hostname, not where that name resolves: a public name pointing at 127.0.0.1 (or
 * DNS rebinding) passes. The HTTP executor therefore also judges each address a name resolved to, at connect time.
 */

type Range<A> = [network: A, prefix: number, reason: string];

/**
 * First match wins: specific entries (metadata) come before the ranges that contain them. Ranges from the IANA
 * special-purpose registries whose addresses reach the local host, a private network or a translator into one.
 */
const IPV4_RANGES = cidrs(ipaddr.IPv4, [
  ['169.254.169.254/32', 'cloud metadata endpoint'],
  ['100.100.100.200/32', 'cloud metadata endpoint'],
  // Linux routes 0.0.0.0 (and the rest of "this network") to the local host.
  ['0.0.0.0/8', 'unspecified'],
  ['127.0.0.0/8', 'loopback'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['169.254.0.0/16', 'link-local'],
  ['100.64.0.0/10', 'shared address space (CGNAT)'],
  // DS-Lite, NAT64 discovery and other middlebox addresses (RFC 6890).
  ['192.0.0.0/24', 'IETF protocol assignments'],
  // Network benchmarking (RFC 2544): used inside data centres as private space.
  ['198.18.0.0/15', 'benchmarking'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
]);

const IPV6_RANGES = cidrs(ipaddr.IPv6, [
  ['fd00:ec2::254/128', 'cloud metadata endpoint'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fc00::/7', 'private'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
  // 6to4 carries any IPv4 address (127.0.0.1 as 2002:7f00:1::) to a relay that may deliver it locally.
  ['2002::/16', '6to4'],
  // Local-use NAT64 (RFC 8215): a site's own translator, into whatever IPv4 it is given.
  ['64:ff9b:1::/48', 'local-use NAT64'],
]);

/** IPv6 forms that carry an IPv4 address in their last 32 bits, which is what a connection may end up reaching. */
const IPV4_EMBEDDING = cidrs(ipaddr.IPv6, [
  ['::ffff:0:0/96', 'IPv4-mapped'],
  ['::/96', 'IPv4-compatible'],
  ['64:ff9b::/96', 'NAT64'],
]);

const LOCALHOST = /(^|\.)localhost$/;
const METADATA_NAMES = new Set(['metadata.google.internal']);

/**
 * Why an http_request may not target `hostname` (e.g. `loopback`), or null if it may. `hostname` is a URL hostname
 * (`example.org`, `127.0.0.1`, `[::1]`) or a bare IP; numeric tricks are normalized the way URL parsing does.
 * `allowedHosts` exempts exact hostnames or IP literals, compared after the same normalization.
 *
 * Given `resolvedAddress` (an IP that `hostname` resolved to), it judges that address instead, unless `hostname` itself
 * is allowed: allowing `wiremock.internal` must let it resolve to 10.0.0.5 without also listing the address.
 */
export function isForbiddenHost(
  hostname: string,
  allowedHosts: readonly string[] = [],
  resolvedAddress?: string,
): string | null {
  const host = canonicalHost(hostname);
  if (allowedHosts.some((allowed) => canonicalHost(allowed) === host)) return null;
  if (resolvedAddress !== undefined) return isForbiddenHost(resolvedAddress, allowedHosts);
  if (host === '') return 'empty hostname';
  if (LOCALHOST.test(host)) return 'localhost';
  if (METADATA_NAMES.has(host)) return 'cloud metadata endpoint';

  if (ipaddr.IPv4.isValidFourPartDecimal(host)) return ipv4Reason(ipaddr.IPv4.parse(host));

  const literal = host.replace(/%.*$/, '');
  if (!ipaddr.IPv6.isValid(literal)) return null;
  const v6 = ipaddr.IPv6.parse(literal);
  // IPv6's own ranges first: `::` and `::1` would otherwise read as IPv4-compatible 0.0.0.0 and 0.0.0.1.
  const own = IPV6_RANGES.find(([network, prefix]) => v6.match(network, prefix));
  if (own) return own[2];
  const embedding = IPV4_EMBEDDING.find(([network, prefix]) => v6.match(network, prefix));
  if (!embedding) return null;
  const v4 = new ipaddr.IPv4(v6.toByteArray().slice(12));
  const embedded = ipv4Reason(v4);
  return embedded ? `${embedded}, ${embedding[2]} ${v4.toString()}` : null;
}

/** `[::FFFF:127.0.0.1]`, `2130706433`, `LocalHost.` → `::ffff:7f00:1`, `127.0.0.1`, `localhost`. */
function canonicalHost(hostname: string): string {
  let host = hostname
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  try {
    host = new URL(`http://${host.includes(':') ? `[${host}]` : host}/`).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    // Not something URL parsing accepts (e.g. an IPv6 zone id): judge it as written.
  }
  return host.replace(/\.+$/, '');
}

function ipv4Reason(address: ipaddr.IPv4): string | null {
  return IPV4_RANGES.find(([network, prefix]) => address.match(network, prefix))?.[2] ?? null;
}

function cidrs<A extends ipaddr.IPv4 | ipaddr.IPv6>(
  kind: { parseCIDR(cidr: string): [A, number] },
  entries: [cidr: string, reason: string][],
): Range<A>[] {
  return entries.map(([cidr, reason]) => [...kind.parseCIDR(cidr), reason]);
}
