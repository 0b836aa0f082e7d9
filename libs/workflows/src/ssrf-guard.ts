import { parseIPv4, parseIPv6 } from './ip-address.js';

/**
 * SSRF guard for http_request nodes (DESIGN §3 invariant 8): a workflow author must not make the platform call its own
 * loopback, private network, link-local or cloud metadata services. Plain code, no node:net, so it runs in a browser.
 *
 * Without `resolvedAddress` it judges a hostname, not where that name resolves: a public name pointing at 127.0.0.1 (or
 * DNS rebinding) passes. The HTTP executor therefore also judges each address a name resolved to, at connect time.
 */

interface Range {
  groups: number[];
  prefix: number;
  reason: string;
}

/** First match wins: specific entries (metadata) come before the ranges that contain them. */
const IPV4_RANGES = ranges(parseIPv4, [
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
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
]);

const IPV6_RANGES = ranges(parseIPv6, [
  ['fd00:ec2::254/128', 'cloud metadata endpoint'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fc00::/7', 'private'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
]);

/** IPv6 forms that carry an IPv4 address in their last 32 bits, which is what a connection may end up reaching. */
const IPV4_EMBEDDING = ranges(parseIPv6, [
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

  const v4 = parseIPv4(host);
  if (v4 !== null) return ipv4Reason([Math.floor(v4 / 65536), v4 % 65536]);

  const v6 = parseIPv6(host.replace(/%.*$/, ''));
  if (v6 === null) return null;
  // IPv6's own ranges first: `::` and `::1` would otherwise read as IPv4-compatible 0.0.0.0 and 0.0.0.1.
  const own = IPV6_RANGES.find((r) => matches(v6, r));
  if (own) return own.reason;
  const embedding = IPV4_EMBEDDING.find((r) => matches(v6, r));
  const embedded = embedding && ipv4Reason(v6.slice(6));
  return embedded ? `${embedded}, ${embedding.reason} ${dotted(v6.slice(6))}` : null;
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

/** The reason for an IPv4 address given as two 16-bit groups (how it sits inside IPv6), or null. */
function ipv4Reason(groups: number[]): string | null {
  return IPV4_RANGES.find((r) => matches(groups, r))?.reason ?? null;
}

function matches(groups: number[], { groups: base, prefix }: Range): boolean {
  for (let bit = 0; bit < prefix; bit += 16) {
    const width = Math.min(16, prefix - bit);
    const shift = 16 - width;
    if ((groups[bit / 16] ?? 0) >> shift !== (base[bit / 16] ?? 0) >> shift) return false;
  }
  return true;
}

/** Ranges are kept as 16-bit groups so IPv4 and IPv6 share one prefix comparison. */
function ranges(parse: (text: string) => number | number[] | null, entries: [cidr: string, reason: string][]): Range[] {
  return entries.map(([cidr, reason]) => {
    const [address = '', bits = ''] = cidr.split('/');
    const parsed = parse(address);
    if (parsed === null) throw new Error(`bad range ${cidr}`);
    const groups = typeof parsed === 'number' ? [Math.floor(parsed / 65536), parsed % 65536] : parsed;
    return { groups, prefix: Number(bits), reason };
  });
}

function dotted([high = 0, low = 0]: number[]): string {
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}
