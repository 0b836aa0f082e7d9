/**
 * IP literal parsing for the SSRF guard, in plain code (not node:net) so the definition validator also runs in a
 * browser. Inputs are hostnames already normalized by WHATWG URL parsing, which turns `2130706433`, `0x7f.1` and
 * `0177.0.0.1` into `127.0.0.1`; these parsers therefore accept only the canonical forms.
 */

/** `a.b.c.d` as an unsigned 32-bit number, or null. */
export function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/** An IPv6 address (without brackets or zone) as eight 16-bit groups, or null. Accepts `::` and a dotted IPv4 tail. */
export function parseIPv6(text: string): number[] | null {
  // Rewrite a dotted IPv4 tail (`::ffff:1.2.3.4`) as its two hex groups (`::ffff:102:304`), then parse hex only.
  const lastColon = text.lastIndexOf(':');
  let hex = text;
  if (lastColon >= 0 && text.includes('.', lastColon)) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    hex = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = hex.split('::');
  if (halves.length > 2) return null;
  const left = hexGroups(halves[0]);
  const right = hexGroups(halves[1]);
  if (left === null || right === null) return null;
  const explicit = left.length + right.length;
  if (halves.length === 1) return explicit === 8 ? left : null;
  return explicit <= 7 ? [...left, ...new Array<number>(8 - explicit).fill(0), ...right] : null;
}

function hexGroups(part: string | undefined): number[] | null {
  if (part === undefined || part === '') return [];
  const groups: number[] = [];
  for (const group of part.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    groups.push(parseInt(group, 16));
  }
  return groups;
}
