/**
 * The per-install egress allowlist (the install's `egress.allow`): `scheme://host[:port]` patterns.
 *
 *  - `https://api.example.com`      — that host, port 443 only (the scheme's default port);
 *  - `http://api.example.com:8080`  — that host, port 8080 only;
 *  - `https://*.example.com`        — any subdomain at any depth (a.example.com, a.b.example.com),
 *                                     never the apex example.com itself.
 *
 * An empty list allows nothing. Hosts are normalised with the WHATWG URL parser, the same parser
 * that reads the guest's URL, so `HTTPS://API.Example.COM` and IDN spellings compare equal.
 * Wildcards over a single label (`*.com`) and bare `*` are refused: an allowlist that allows
 * "everything" is the reference runner's bug we must not repeat.
 */
import { z } from 'zod';

export type EgressScheme = 'http' | 'https';

export interface EgressPattern {
  readonly source: string;
  readonly scheme: EgressScheme;
  /** URL-normalised host (`[::1]` for IPv6); for wildcards, the suffix after `*.` */
  readonly host: string;
  readonly wildcard: boolean;
  readonly port: number;
}

export type PatternParseResult = { readonly ok: true; readonly pattern: EgressPattern } | { readonly ok: false; readonly reason: string };

export const DEFAULT_PORTS: Readonly<Record<EgressScheme, number>> = { http: 80, https: 443 };

const MAX_PATTERN_LENGTH = 300;
export const MAX_EGRESS_PATTERNS = 256;

/** Parse one pattern; the reason names the offending text so an admin can fix it. */
export function parseEgressPattern(source: string): PatternParseResult {
  const fail = (why: string): PatternParseResult => ({ ok: false, reason: `invalid egress pattern ${JSON.stringify(source)}: ${why}` });
  if (source.length === 0 || source.length > MAX_PATTERN_LENGTH) return fail(`length must be 1..${MAX_PATTERN_LENGTH}`);
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(source);
  if (!match) return fail('expected scheme://host[:port]');
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return fail('scheme must be http or https');
  let rest = match[2]!;
  if (/[/?#@\\\s]/.test(rest)) return fail('only scheme://host[:port] is allowed (no path, query, credentials or spaces)');
  const wildcard = rest.startsWith('*.');
  if (wildcard) rest = rest.slice(2);
  if (rest.includes('*')) return fail('a wildcard is only allowed as the leading "*." label');

  let url: URL;
  try {
    url = new URL(`${scheme}://${rest}`);
  } catch {
    return fail('host or port is not valid');
  }
  const host = url.hostname;
  if (host.length === 0) return fail('host is empty');
  const isIpLiteral = host.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(host);
  if (wildcard && isIpLiteral) return fail('a wildcard cannot apply to an IP address');
  if (wildcard && !host.includes('.')) return fail('a wildcard needs at least two labels after "*." (e.g. *.example.com)');
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
  if (port === 0) return fail('port 0 is not a valid destination');
  return { ok: true, pattern: { source, scheme, host, wildcard, port } };
}

/** zod schema for one pattern, for the admin API (errors carry `parseEgressPattern`'s reason). */
export const egressPatternSchema = z.string().superRefine((text, ctx) => {
  const parsed = parseEgressPattern(text);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
});

/** zod schema for a whole allowlist (`egress.allow` in the admin API). */
export const egressAllowlistSchema = z.array(egressPatternSchema).max(MAX_EGRESS_PATTERNS);

export type AllowlistCompileResult = { readonly ok: true; readonly allowlist: EgressAllowlist } | { readonly ok: false; readonly errors: readonly string[] };

export class EgressAllowlist {
  private constructor(readonly patterns: readonly EgressPattern[]) {}

  /** Compile every pattern; any invalid pattern fails the whole list with every reason. */
  static compile(sources: readonly string[]): AllowlistCompileResult {
    const patterns: EgressPattern[] = [];
    const errors: string[] = [];
    if (sources.length > MAX_EGRESS_PATTERNS) errors.push(`an allowlist holds at most ${MAX_EGRESS_PATTERNS} patterns`);
    for (const source of sources) {
      const parsed = parseEgressPattern(source);
      if (parsed.ok) patterns.push(parsed.pattern);
      else errors.push(parsed.reason);
    }
    return errors.length > 0 ? { ok: false, errors } : { ok: true, allowlist: new EgressAllowlist(patterns) };
  }

  /** The allowlist that allows nothing. */
  static readonly empty = new EgressAllowlist([]);

  /** Does any pattern allow this URL's scheme, host and port? */
  allows(url: URL): boolean {
    return this.matching(url) !== undefined;
  }

  /** The first pattern that allows the URL, for logs. */
  matching(url: URL): EgressPattern | undefined {
    const scheme = url.protocol.slice(0, -1);
    if (scheme !== 'http' && scheme !== 'https') return undefined;
    const host = url.hostname;
    const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
    return this.patterns.find((p) => p.scheme === scheme && p.port === port && (p.wildcard ? host.length > p.host.length + 1 && host.endsWith(`.${p.host}`) : host === p.host));
  }
}
