/**
 * Outbound HTTP for guests (`cap:http.fetch`), behind the SSRF guard (address-policy.ts).
 *
 * One fetch, step by step, every hop:
 *  1. the method must be an HTTP token and the URL http(s) without credentials (`invalid-url`);
 *  2. the URL's scheme/host/port must match the install's allowlist (`not-allowed`);
 *  3. the host is resolved (every address), and every address must pass the address policy
 *     (`not-allowed` if any fails: a name with one private address is not "mostly public");
 *  4. the connection is made to the checked addresses only: node:http gets a `lookup` that
 *     answers with them, so there is no second resolution an attacker's DNS could rebind, while
 *     the Host header and TLS SNI keep the name;
 *  5. redirects are followed here, not by the HTTP client, so each hop goes through 1-4 again.
 *
 * Request headers: `Host` is dropped, as browsers' fetch drops forbidden headers (a guest that
 * copies incoming headers keeps working; the name it asked for is what it gets); hop-by-hop
 * headers, `Content-Length` (computed from the body) and `Expect` are dropped too. The names
 * dropped are reported in the response so the caller can log them.
 *
 * Limits: request body (→ `not-allowed`), response body (streamed, aborted past the cap →
 * `transport`), one timeout covering every hop and the body (→ `transport`), the caller's
 * AbortSignal (execution end → `transport`), redirect hops (→ `transport`).
 *
 * Connections are never pooled (`agent: false`): a pooled socket is keyed by host name, so reuse
 * could carry a request to an address checked for another request.
 */
import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { decideAddress } from './address-policy.js';
import type { EgressAllowlist } from './egress-allowlist.js';

export interface HttpHeader {
  readonly name: string;
  readonly value: string;
}

export interface GuardedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: readonly HttpHeader[];
  readonly body?: Uint8Array | undefined;
}

export interface GuardedResponse {
  readonly status: number;
  /** response headers in received order, hop-by-hop headers removed */
  readonly headers: readonly HttpHeader[];
  readonly body: Uint8Array;
  /** URL of the hop that produced this response */
  readonly url: string;
  /** IP address the final connection went to */
  readonly remoteAddress: string;
  readonly redirects: number;
  /** lower-cased request header names the guard removed (Host, hop-by-hop, ...) */
  readonly droppedRequestHeaders: readonly string[];
}

export type GuardedFetchErrorCode = 'invalid-url' | 'not-allowed' | 'transport' | 'internal';

export type GuardedFetchResult = { readonly kind: 'ok'; readonly response: GuardedResponse } | { readonly kind: 'err'; readonly code: GuardedFetchErrorCode; readonly reason: string };

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to every address it has. Tests inject one to map names without DNS. */
export type Resolver = (hostname: string, signal: AbortSignal) => Promise<readonly ResolvedAddress[]>;

export interface FetchLimits {
  /** one deadline for the whole fetch: DNS, every hop, and reading the body */
  readonly timeoutMs: number;
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;
  readonly maxRedirects: number;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = {
  timeoutMs: 10_000,
  maxRequestBytes: 10 * 1024 * 1024,
  maxResponseBytes: 10 * 1024 * 1024,
  maxRedirects: 5,
};

export interface EgressPolicy {
  readonly allowlist: EgressAllowlist;
  /** operator opt-in to loopback/private addresses (RUNNER_EGRESS_ALLOW_PRIVATE, read at config time) */
  readonly allowPrivate: boolean;
  /** exact addresses allowed regardless of category; for tests reaching one loopback server */
  readonly allowAddresses?: ReadonlySet<string>;
  /** defaults to the system resolver (getaddrinfo, every address) */
  readonly resolve?: Resolver;
  readonly limits?: Partial<FetchLimits>;
  /** `follow` (default): follow 301/302/303/307/308 here; `return`: hand the 3xx back as is */
  readonly redirects?: 'follow' | 'return';
  /** trust anchors replacing Node's bundled roots (tests; deployments with a private CA) */
  readonly tlsCa?: string | Buffer;
}

export const systemResolver: Resolver = async (hostname) => {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Node writes header values as latin1; anything outside this set is refused by it or mangled. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_URL_LENGTH = 8192;
const MAX_REQUEST_HEADERS = 100;
/** Methods fetch forbids: CONNECT opens tunnels, TRACE/TRACK echo credentials back. */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
/** Methods fetch normalises to upper case; any other token is sent exactly as given. */
const NORMALISED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);
const DROPPED_REQUEST_HEADERS = new Set([...HOP_BY_HOP, 'host', 'content-length', 'expect']);
/** Credentials that must not follow a redirect to another origin. */
const CROSS_ORIGIN_STRIPPED = new Set(['authorization', 'cookie', 'proxy-authorization']);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

type Failure = { readonly kind: 'err'; readonly code: GuardedFetchErrorCode; readonly reason: string };
const failure = (code: GuardedFetchErrorCode, reason: string): Failure => ({ kind: 'err', code, reason });

interface Hop {
  readonly method: string;
  readonly url: URL;
  readonly headers: readonly HttpHeader[];
  readonly body: Uint8Array | undefined;
}

export async function guardedFetch(request: GuardedRequest, policy: EgressPolicy, options: { readonly signal?: AbortSignal } = {}): Promise<GuardedFetchResult> {
  const limits: FetchLimits = { ...DEFAULT_FETCH_LIMITS, ...policy.limits };

  if (typeof request.method !== 'string' || !TOKEN.test(request.method)) {
    return failure('invalid-url', `method ${JSON.stringify(request.method)} is not an HTTP token`);
  }
  const upper = request.method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) return failure('not-allowed', `method ${upper} is not allowed`);
  const method = NORMALISED_METHODS.has(upper) ? upper : request.method;

  const url = parseHttpUrl(request.url);
  if (!(url instanceof URL)) return failure('invalid-url', url);

  const prepared = prepareHeaders(request.headers);
  if (typeof prepared === 'string') return failure('invalid-url', prepared);

  if (request.body && request.body.byteLength > limits.maxRequestBytes) {
    return failure('not-allowed', `request body of ${request.body.byteLength} bytes exceeds the ${limits.maxRequestBytes}-byte limit`);
  }

  const deadline = new Deadline(limits.timeoutMs, options.signal);
  try {
    const first: Hop = { method, url, headers: prepared.headers, body: request.body };
    return await followHops(first, policy, limits, deadline, prepared.dropped);
  } catch (e) {
    // Network failures are answered inside followHops; reaching here is a bug in this module.
    return failure('internal', `unexpected error: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    deadline.dispose();
  }
}

async function followHops(first: Hop, policy: EgressPolicy, limits: FetchLimits, deadline: Deadline, dropped: readonly string[]): Promise<GuardedFetchResult> {
  let hop = first;
  for (let redirects = 0; ; redirects++) {
    const target = await checkTarget(hop.url, policy, deadline);
    if (target.kind === 'err') return target;

    let res: http.IncomingMessage;
    try {
      res = await send(hop, target.addresses, deadline.signal, policy.tlsCa);
    } catch (e) {
      return failure('transport', deadline.reason ?? describeError(e));
    }

    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (policy.redirects !== 'return' && REDIRECT_STATUSES.has(status) && location !== undefined) {
      res.destroy();
      if (redirects >= limits.maxRedirects) return failure('transport', `too many redirects (limit ${limits.maxRedirects})`);
      let next: URL;
      try {
        next = new URL(location, hop.url);
      } catch {
        return failure('transport', 'redirect to an unparseable location');
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        return failure('not-allowed', `redirect to scheme ${next.protocol} is not allowed`);
      }
      // credentials in a redirect target are the server's, never the guest's: not sent, not followed
      if (next.username !== '' || next.password !== '') return failure('not-allowed', 'redirect to a location carrying credentials (userinfo) is not allowed');
      hop = redirectedHop(hop, status, next);
      continue;
    }

    const remoteAddress = res.socket?.remoteAddress ?? '';
    const body = await readBody(res, hop.method, limits.maxResponseBytes, deadline);
    if (typeof body === 'string') return failure('transport', body);
    return {
      kind: 'ok',
      response: { status, headers: responseHeaders(res.rawHeaders), body, url: hop.url.href, remoteAddress, redirects, droppedRequestHeaders: dropped },
    };
  }
}

/** Allowlist, then resolution, then every address through the policy. */
async function checkTarget(url: URL, policy: EgressPolicy, deadline: Deadline): Promise<{ kind: 'ok'; addresses: readonly ResolvedAddress[] } | Failure> {
  if (!policy.allowlist.allows(url)) {
    return failure('not-allowed', `${url.protocol}//${url.host} is not in the install's egress allowlist`);
  }
  const hostname = bareHostname(url);
  let addresses: readonly ResolvedAddress[];
  const literal = isIP(hostname);
  if (literal !== 0) {
    addresses = [{ address: hostname, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await deadline.race((policy.resolve ?? systemResolver)(hostname, deadline.signal));
    } catch (e) {
      return failure('transport', deadline.reason ?? `could not resolve ${hostname}: ${describeError(e)}`);
    }
    if (addresses.length === 0) return failure('transport', `${hostname} resolved to no address`);
  }
  for (const { address } of addresses) {
    const decision = decideAddress(address, { allowPrivate: policy.allowPrivate, allowAddresses: policy.allowAddresses });
    if (!decision.allowed) {
      const reason = literal === 0 ? `${hostname} resolves to ${decision.verdict.address}, which is ${decision.why}` : decision.reason;
      return failure('not-allowed', reason);
    }
  }
  return { kind: 'ok', addresses };
}

/** One HTTP exchange to the pinned addresses; resolves when the response head arrives. */
function send(hop: Hop, addresses: readonly ResolvedAddress[], signal: AbortSignal, tlsCa: string | Buffer | undefined): Promise<http.IncomingMessage> {
  const headers: Record<string, string[]> = {};
  for (const h of hop.headers) (headers[h.name.toLowerCase()] ??= []).push(h.value);
  if (hop.body !== undefined) headers['content-length'] = [String(hop.body.byteLength)];

  const pinned: LookupFunction = (_hostname, options, callback) => {
    // Answer with exactly the addresses that passed the policy; never ask DNS again.
    if (options.all)
      callback(
        null,
        addresses.map((a) => ({ address: a.address, family: a.family })),
      );
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  const client = hop.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      {
        protocol: hop.url.protocol,
        hostname: bareHostname(hop.url),
        port: hop.url.port === '' ? undefined : Number(hop.url.port),
        path: `${hop.url.pathname}${hop.url.search}`,
        method: hop.method,
        headers,
        lookup: pinned,
        agent: false,
        signal,
        // TLS verifies the certificate against the URL's host name (SNI too), not the pinned address.
        ...(tlsCa === undefined ? {} : { ca: tlsCa }),
      },
      resolve,
    );
    req.on('error', reject);
    req.end(hop.body === undefined ? undefined : Buffer.from(hop.body.buffer, hop.body.byteOffset, hop.body.byteLength));
  });
}

/** Reads the body up to `cap` bytes; past it the connection is torn down. A string is the failure reason. */
async function readBody(res: http.IncomingMessage, method: string, cap: number, deadline: Deadline): Promise<Uint8Array | string> {
  // A HEAD answer declares the length of a body it does not carry.
  const declared = method === 'HEAD' ? 0 : Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > cap) {
    res.destroy();
    return `response body of ${declared} bytes exceeds the ${cap}-byte limit`;
  }
  const onAbort = (): void => {
    res.destroy(new Error(deadline.reason ?? 'aborted'));
  };
  deadline.signal.addEventListener('abort', onAbort, { once: true });
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > cap) {
        res.destroy();
        return `response body exceeds the ${cap}-byte limit`;
      }
      chunks.push(chunk);
    }
  } catch (e) {
    return deadline.reason ?? `reading the response failed: ${describeError(e)}`;
  } finally {
    deadline.signal.removeEventListener('abort', onAbort);
  }
  if (!res.complete) return deadline.reason ?? 'the connection closed before the response was complete';
  const joined = Buffer.concat(chunks, total);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
}

function redirectedHop(hop: Hop, status: number, next: URL): Hop {
  // fetch's rules: 303 turns everything but HEAD into GET; 301/302 turn POST into GET.
  const toGet = (status === 303 && hop.method !== 'HEAD') || ((status === 301 || status === 302) && hop.method === 'POST');
  const crossOrigin = next.origin !== hop.url.origin;
  const headers = hop.headers.filter((h) => {
    const name = h.name.toLowerCase();
    if (crossOrigin && CROSS_ORIGIN_STRIPPED.has(name)) return false;
    if (toGet && (name === 'content-type' || name === 'content-encoding' || name === 'content-language')) return false;
    return true;
  });
  return { method: toGet ? 'GET' : hop.method, url: next, headers, body: toGet ? undefined : hop.body };
}

function parseHttpUrl(text: unknown): URL | string {
  if (typeof text !== 'string') return 'url must be a string';
  if (text.length > MAX_URL_LENGTH) return `url longer than ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The URL itself stays out of the reason: query strings often carry tokens.
    return 'url is not a valid absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `url scheme ${url.protocol} is not http or https`;
  if (url.username !== '' || url.password !== '') return 'url must not carry credentials';
  url.hash = '';
  return url;
}

function prepareHeaders(list: readonly HttpHeader[]): { headers: HttpHeader[]; dropped: string[] } | string {
  if (!Array.isArray(list)) return 'headers must be a list';
  if (list.length > MAX_REQUEST_HEADERS) return `more than ${MAX_REQUEST_HEADERS} request headers`;
  for (const h of list) {
    if (typeof h?.name !== 'string' || !TOKEN.test(h.name)) return `header name ${JSON.stringify(h?.name)} is not an HTTP token`;
    if (typeof h.value !== 'string' || !HEADER_VALUE.test(h.value)) return `header ${h.name} has a value with forbidden characters`;
  }
  // Headers named by Connection are hop-by-hop for this request too.
  const connectionNamed = new Set(list.filter((h) => h.name.toLowerCase() === 'connection').flatMap((h) => h.value.split(',').map((t: string) => t.trim().toLowerCase())));
  const headers: HttpHeader[] = [];
  const dropped = new Set<string>();
  for (const h of list) {
    const name = h.name.toLowerCase();
    if (DROPPED_REQUEST_HEADERS.has(name) || connectionNamed.has(name)) dropped.add(name);
    else headers.push({ name: h.name, value: h.value });
  }
  return { headers, dropped: [...dropped] };
}

function responseHeaders(raw: readonly string[]): HttpHeader[] {
  const out: HttpHeader[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push({ name, value: raw[i + 1]! });
  }
  return out;
}

function bareHostname(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

/** The fetch's single deadline, also tripped by the execution's own AbortSignal. */
class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onOuterAbort = (): void => this.trip('the execution ended before the fetch completed');
  reason: string | undefined;

  constructor(
    timeoutMs: number,
    private readonly outer: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(() => this.trip(`timed out after ${timeoutMs} ms`), timeoutMs);
    if (outer?.aborted) this.onOuterAbort();
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Settles with `work`, or rejects as soon as the deadline trips (for work that cannot be aborted). */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.controller.signal.aborted) return Promise.reject(new Error(this.reason));
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(new Error(this.reason));
      this.controller.signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => this.controller.signal.removeEventListener('abort', onAbort));
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }

  private trip(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller.abort(new Error(reason));
  }
}
