/**
 * Which IP addresses outbound HTTP may connect to: the SSRF guard (docs/security.md).
 *
 * Every address falls in one of three categories:
 *  - `public`    — global unicast: always allowed;
 *  - `private`   — loopback, RFC 1918, CGNAT, link-local, unique-local and the like: allowed only
 *                  when the operator opts in (`RUNNER_EGRESS_ALLOW_PRIVATE=1`, read at config time);
 *  - `forbidden` — never useful as an HTTP peer and dangerous (cloud metadata, unspecified,
 *                  multicast, broadcast, documentation/reserved ranges): refused even then.
 *
 * IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, SIIT, NAT64 well-known
 * prefix, 6to4) are judged as the IPv4 address they carry, so `::ffff:127.0.0.1` is loopback.
 * Parsing and the range tables come from ipaddr.js; this module only decides.
 *
 * Alternative spellings of IPv4 in URLs (`2130706433`, `0x7f.1`, `017700000001`) never reach
 * this module un-normalised: the WHATWG URL parser rewrites them to dotted quads.
 */
import ipaddr from 'ipaddr.js';

export type AddressCategory = 'public' | 'private' | 'forbidden';

export interface AddressVerdict {
  /** canonical text of the address judged (IPv6 compressed, IPv4 dotted quad) */
  readonly address: string;
  readonly category: AddressCategory;
  /** human-readable range name for logs and error reasons, e.g. `loopback`, `private (IPv4-mapped)` */
  readonly range: string;
}

export interface AddressPermission {
  /** operator opt-in to loopback/private networks (development and tests) */
  readonly allowPrivate: boolean;
  /**
   * Exact addresses allowed whatever their category. Tests use it to reach one loopback server
   * while every other private address stays refused; production code leaves it empty.
   */
  readonly allowAddresses?: ReadonlySet<string>;
}

export type AddressDecision =
  | { readonly allowed: true; readonly verdict: AddressVerdict }
  | {
      readonly allowed: false;
      readonly verdict: AddressVerdict;
      /** what the address is and why that is refused, e.g. `private (private networks are not enabled)` */
      readonly why: string;
      /** `address 10.0.0.1 is private (...)` */
      readonly reason: string;
    };

/** Instance-metadata endpoints of the big clouds; refused even when private networks are allowed. */
const CLOUD_METADATA = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', 'fd00:ec2::254']);

const IPV4_PUBLIC_RANGES = new Set(['unicast', 'as112', 'amt']);
const IPV4_PRIVATE_RANGES: Readonly<Record<string, string>> = {
  loopback: 'loopback',
  private: 'private',
  carrierGradeNat: 'carrier-grade NAT',
  linkLocal: 'link-local',
};
const IPV6_PUBLIC_RANGES = new Set(['unicast', 'as112v6', 'amt']);
const IPV6_PRIVATE_RANGES: Readonly<Record<string, string>> = {
  loopback: 'loopback',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  deprecatedSiteLocal: 'site-local',
};

/** 2000::/3 is the only IPv6 space IANA allocates for global unicast. */
const IPV6_GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');
const NAT64_LOCAL_USE = ipaddr.IPv6.parseCIDR('64:ff9b:1::/48');

/** Judge one address given as text. Text that is not an IP address is `forbidden` (`invalid`). */
export function classifyAddress(text: string): AddressVerdict {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  // Only canonical four-part IPv4 is accepted here: resolvers and the URL parser produce it, and
  // accepting "127.1" or "0x7f000001" would invite spellings the caller never normalised.
  if (!ipaddr.IPv6.isValid(bare) && !ipaddr.IPv4.isValidFourPartDecimal(bare)) {
    return { address: text, category: 'forbidden', range: 'invalid' };
  }
  const parsed = ipaddr.parse(bare);
  return parsed.kind() === 'ipv4' ? classifyIPv4(parsed as ipaddr.IPv4) : classifyIPv6(parsed as ipaddr.IPv6);
}

/** Decide whether a connection to `text` is allowed under `permission`. */
export function decideAddress(text: string, permission: AddressPermission): AddressDecision {
  const verdict = classifyAddress(text);
  if (permission.allowAddresses?.has(verdict.address)) return { allowed: true, verdict };
  if (verdict.category === 'public') return { allowed: true, verdict };
  if (verdict.category === 'private' && permission.allowPrivate) return { allowed: true, verdict };
  const hint = verdict.category === 'private' ? ' (private networks are not enabled)' : '';
  const why = `${verdict.range}${hint}`;
  return { allowed: false, verdict, why, reason: `address ${verdict.address} is ${why}` };
}

function classifyIPv4(ip: ipaddr.IPv4, via?: string): AddressVerdict {
  const address = ip.toString();
  const suffix = via ? ` (${via})` : '';
  if (CLOUD_METADATA.has(address)) return { address, category: 'forbidden', range: `cloud metadata${suffix}` };
  const range = ip.range();
  if (IPV4_PUBLIC_RANGES.has(range)) return { address, category: 'public', range: `public${suffix}` };
  const privateName = IPV4_PRIVATE_RANGES[range];
  if (privateName) return { address, category: 'private', range: `${privateName}${suffix}` };
  // unspecified (0/8), broadcast, multicast, reserved/documentation/benchmarking ranges
  return { address, category: 'forbidden', range: `${range}${suffix}` };
}

function classifyIPv6(ip: ipaddr.IPv6): AddressVerdict {
  const address = ip.toString();
  if (CLOUD_METADATA.has(address)) return { address, category: 'forbidden', range: 'cloud metadata' };
  const range = ip.range();
  // Exact ::1 and :: first: they sit inside ::/96 but are IPv6's own loopback and unspecified.
  if (range === 'loopback') return { address, category: 'private', range: 'loopback' };
  if (range === 'unspecified') return { address, category: 'forbidden', range: 'unspecified' };

  const embedded = embeddedIPv4(ip, range);
  if (embedded) {
    const inner = classifyIPv4(embedded.ipv4, embedded.via);
    // Report the address actually dialled, judged by the IPv4 it reaches.
    return { address, category: inner.category, range: inner.range };
  }
  if (ip.match(NAT64_LOCAL_USE)) return { address, category: 'private', range: 'local-use NAT64' };

  const privateName = IPV6_PRIVATE_RANGES[range];
  if (privateName) return { address, category: 'private', range: privateName };
  if (IPV6_PUBLIC_RANGES.has(range) && ip.match(IPV6_GLOBAL_UNICAST)) return { address, category: 'public', range: 'public' };
  // multicast, teredo, documentation, discard, ORCHID, unallocated space outside 2000::/3, ...
  return { address, category: 'forbidden', range: range === 'unicast' ? 'not global unicast' : range };
}

function embeddedIPv4(ip: ipaddr.IPv6, range: string): { ipv4: ipaddr.IPv4; via: string } | null {
  const p = ip.parts;
  const low32 = (): ipaddr.IPv4 => new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff]);
  switch (range) {
    case 'ipv4Mapped':
      return { ipv4: low32(), via: 'IPv4-mapped' };
    case 'rfc6145':
      return { ipv4: low32(), via: 'IPv4-translated' };
    case 'rfc6052':
      // ipaddr.js files both 64:ff9b::/96 and 64:ff9b:1::/48 here; only the /96 has a fixed layout.
      return ip.match(NAT64_LOCAL_USE) ? null : { ipv4: low32(), via: 'NAT64' };
    case '6to4':
      return { ipv4: new ipaddr.IPv4([p[1]! >> 8, p[1]! & 0xff, p[2]! >> 8, p[2]! & 0xff]), via: '6to4' };
    default:
      return ip.match(IPV4_COMPATIBLE) ? { ipv4: low32(), via: 'IPv4-compatible' } : null;
  }
}
