/**
 * `cap:http.fetch` — interface `alga:extension/http`, function `fetch` (wit/world.wit).
 *
 * Per install: the egress allowlist, compiled once (an invalid stored pattern makes every fetch
 * answer `not-allowed` with the pattern's error in the log, rather than silently allowing less or
 * more than the admin wrote). Per execution: a fetch budget (50 by default). The SSRF guard,
 * pinning, redirects and size/time limits live in src/net/guarded-fetch.ts; this module maps the
 * guest's record to it and its answers back to `http-error`.
 */
import { z } from 'zod';
import { defineCapability, err, ok } from './capability.js';
import type { Capability } from './capability.js';
import { serve } from './dialects.js';
import { EgressAllowlist } from '../net/egress-allowlist.js';
import { DEFAULT_FETCH_LIMITS, guardedFetch } from '../net/guarded-fetch.js';
import type { EgressPolicy, FetchLimits, GuardedFetchResult, GuardedRequest, Resolver } from '../net/guarded-fetch.js';

export const HTTP_CAPABILITY = 'cap:http.fetch';
export const HTTP_INTERFACE = 'alga:extension/http';

export interface HttpLimits extends FetchLimits {
  readonly fetchesPerExecution: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = { ...DEFAULT_FETCH_LIMITS, fetchesPerExecution: 50 };

export interface HttpCapabilityOptions {
  /** RUNNER_EGRESS_ALLOW_PRIVATE=1, read once by the service's config */
  readonly allowPrivate: boolean;
  readonly limits?: Partial<HttpLimits>;
  /** test seams: a resolver without DNS, and exact addresses allowed (one loopback test server) */
  readonly resolve?: Resolver;
  readonly allowAddresses?: ReadonlySet<string>;
  /**
   * Test seam: what answers a fetch that passed the install's checks (default: the guarded network
   * fetch). The SDK's test harness (src/testing/harness.ts) records and answers requests here.
   */
  readonly fetch?: (request: GuardedRequest, policy: EgressPolicy, options: { readonly signal?: AbortSignal }) => Promise<GuardedFetchResult>;
}

export type HttpConfig = { readonly kind: 'ready'; readonly policy: EgressPolicy } | { readonly kind: 'invalid'; readonly errors: readonly string[] };

export interface HttpState {
  fetchesLeft: number;
}

/** The guest's `http-request` record as jco lowers it. */
const httpRequestSchema = z.object({
  method: z.string(),
  url: z.string(),
  headers: z.array(z.object({ name: z.string(), value: z.string() })),
  body: z.instanceof(Uint8Array).optional(),
});

export function createHttpCapability(options: HttpCapabilityOptions): Capability<HttpConfig, HttpState> {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };

  return defineCapability<HttpConfig, HttpState>({
    name: HTTP_CAPABILITY,
    grantedByDefault: false,
    configure(install) {
      const compiled = EgressAllowlist.compile(install.egressAllow);
      if (!compiled.ok) return { kind: 'invalid', errors: compiled.errors };
      return {
        kind: 'ready',
        policy: {
          allowlist: compiled.allowlist,
          allowPrivate: options.allowPrivate,
          allowAddresses: options.allowAddresses,
          resolve: options.resolve,
          limits,
        },
      };
    },
    prepare() {
      return { fetchesLeft: limits.fetchesPerExecution };
    },
    interfaces: [
      serve(HTTP_INTERFACE, {
        functions: {
          async fetch({ args, config, state, services }) {
            const request = httpRequestSchema.safeParse(args[0]);
            if (!request.success) {
              services.log('warn', `http.fetch: malformed request record: ${request.error.issues[0]?.message ?? 'invalid'}`);
              return err('invalid-url');
            }
            if (config.kind === 'invalid') {
              services.log('warn', `http.fetch refused: the install's egress allowlist is invalid: ${config.errors.join('; ')}`);
              return err('not-allowed');
            }
            if (state.fetchesLeft <= 0) {
              services.log('warn', `http.fetch refused: the budget of ${limits.fetchesPerExecution} fetches per execution is spent`);
              return err('not-allowed');
            }
            state.fetchesLeft -= 1;

            const result = await (options.fetch ?? guardedFetch)(request.data, config.policy, { signal: services.signal });
            if (result.kind === 'err') {
              services.log('warn', `http.fetch ${request.data.method} ${describeUrl(request.data.url)} failed (${result.code}): ${result.reason}`);
              return err(result.code);
            }
            const { response } = result;
            if (response.droppedRequestHeaders.length > 0) {
              services.log('info', `http.fetch dropped request headers the guest may not set: ${response.droppedRequestHeaders.join(', ')}`);
            }
            return ok({ status: response.status, headers: response.headers.map((h) => ({ name: h.name, value: h.value })), body: response.body });
          },
        },
        denied: { fetch: err('not-allowed') },
      }),
    ],
  });
}

/** scheme://host/path only: query strings often carry tokens, which must not reach the log. */
function describeUrl(text: string): string {
  try {
    const url = new URL(text);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return JSON.stringify(text.slice(0, 200));
  }
}
