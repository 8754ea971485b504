/**
 * `cap:ui.proxy` — interface `alga:extension/ui-proxy`, `call(route, payload?)` and the later
 * dialect's `callRoute` (wit/world.wit).
 *
 * The guest names a path; the host owns everything else: the upstream (the install's
 * `uiProxy.baseUrl`, configured by the operator), the method (POST with a payload, GET without),
 * and the identity headers (tenant, extension, install, request, user) plus the install's
 * credential from its secrets. The guest cannot add headers, change the host, or climb out of the
 * base path.
 *
 * The upstream is operator-configured, so private addresses are allowed (Alga's API usually sits
 * on a private network); cloud-metadata addresses stay refused, and redirects are not followed
 * (a 3xx is an upstream fault → `internal`).
 */
import { defineCapability, err, ok } from './capability.js';
import type { AnswerOf, Capability, ExecutionServices } from './capability.js';
import { serve, type SeedInterfaces } from './dialects.js';
import type { ProxyError } from '../generated/wit/seed.js';
import type { ExecutionContext } from '../contract/index.js';
import { EgressAllowlist } from '../net/egress-allowlist.js';
import { guardedFetch } from '../net/guarded-fetch.js';
import type { EgressPolicy, HttpHeader, Resolver } from '../net/guarded-fetch.js';

export const UI_PROXY_CAPABILITY = 'cap:ui.proxy';
export const UI_PROXY_INTERFACE = 'alga:extension/ui-proxy';

export type { ProxyError };

export interface UiProxyLimits {
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly maxPayloadBytes: number;
}

export const DEFAULT_UI_PROXY_LIMITS: UiProxyLimits = {
  timeoutMs: 10_000,
  maxResponseBytes: 10 * 1024 * 1024,
  maxPayloadBytes: 10 * 1024 * 1024,
};

/** Which install secret is sent upstream, and as which header. */
export interface ProxyCredential {
  readonly secret: string;
  readonly header: string;
}

export const DEFAULT_PROXY_CREDENTIAL: ProxyCredential = { secret: 'api_key', header: 'x-api-key' };

export interface UiProxyCapabilityOptions {
  /** the install's secret by name; undefined when the install has none (or it expired) */
  readonly getSecret: (installId: string, name: string) => Promise<string | undefined>;
  readonly credential?: ProxyCredential;
  readonly limits?: Partial<UiProxyLimits>;
  /** test seam: resolve the upstream's name without DNS */
  readonly resolve?: Resolver;
}

export type UiProxyConfig =
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | {
      readonly kind: 'ready';
      readonly installId: string;
      readonly base: URL;
      readonly policy: EgressPolicy;
      /** the credential from this execution's envelope secrets (InstallView.envelopeSecrets), which wins over the stored one */
      readonly envelopeCredential?: string;
      /**
       * Alga's runner's routing (the Alga-managed mode, one upstream for every install): a route not
       * under `/api/` goes to `{base}/{extension id}{route}`, an `/api/` route to `{base}{route}`.
       */
      readonly prefixExtension: boolean;
    };

const MAX_ROUTE_LENGTH = 2048;

/**
 * Why a route is refused, or null when it is acceptable. Checked on the text and on its
 * percent-decoded form, because the URL parser turns `%2e%2e` into a real `..` segment.
 */
export function routeProblem(route: string): string | null {
  if (route.length === 0 || route.length > MAX_ROUTE_LENGTH) return `route length must be 1..${MAX_ROUTE_LENGTH}`;
  if (!route.startsWith('/')) return 'route must start with "/"';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f#]/.test(route)) return 'route contains spaces, control characters or "#"';
  let decoded: string;
  try {
    decoded = decodeURIComponent(route);
  } catch {
    return 'route has a malformed percent-escape';
  }
  for (const text of [route, decoded]) {
    if (text.includes('..')) return 'route must not contain ".."';
    if (text.includes('\\')) return 'route must not contain a backslash';
    if (text.includes('//')) return 'route must not contain "//"';
    if (/[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)) return 'route must not contain a URL scheme';
  }
  return null;
}

/**
 * An upstream's non-2xx status as the guest's error (2xx is handled by the caller): 404
 * `route-not-found`; 401, 403, 429 `denied`; any other 4xx `bad-request`; anything else `internal`.
 */
export function proxyErrorForStatus(status: number): ProxyError {
  if (status === 404) return 'route-not-found';
  if (status === 401 || status === 403 || status === 429) return 'denied';
  if (status >= 400 && status < 500) return 'bad-request';
  return 'internal';
}

export function createUiProxyCapability(options: UiProxyCapabilityOptions): Capability<UiProxyConfig, null> {
  const limits: UiProxyLimits = { ...DEFAULT_UI_PROXY_LIMITS, ...options.limits };
  const credential = options.credential ?? DEFAULT_PROXY_CREDENTIAL;

  async function call(
    route: unknown,
    payload: unknown,
    ctx: ExecutionContext,
    config: UiProxyConfig,
    services: ExecutionServices,
  ): Promise<AnswerOf<SeedInterfaces['alga:extension/ui-proxy']['call']>> {
    if (config.kind === 'none') {
      services.log('warn', 'ui-proxy: this install has no upstream configured');
      return err('route-not-found');
    }
    if (config.kind === 'invalid') {
      services.log('error', `ui-proxy: the install's upstream is misconfigured: ${config.reason}`);
      return err('internal');
    }
    if (typeof route !== 'string') return err('bad-request');
    const problem = routeProblem(route);
    if (problem) {
      services.log('warn', `ui-proxy refused route ${JSON.stringify(route.slice(0, 200))}: ${problem}`);
      return err('bad-request');
    }
    if (payload !== undefined && !(payload instanceof Uint8Array)) return err('bad-request');
    if (payload && payload.byteLength > limits.maxPayloadBytes) {
      services.log('warn', `ui-proxy: payload of ${payload.byteLength} bytes exceeds the ${limits.maxPayloadBytes}-byte limit`);
      return err('bad-request');
    }

    const routed = config.prefixExtension && !route.startsWith('/api/') ? `/${encodeURIComponent(ctx.extensionId)}${route}` : route;
    const target = joinUnderBase(config.base, routed);
    if (!target) {
      services.log('warn', `ui-proxy refused route ${JSON.stringify(route)}: it leaves the upstream base path`);
      return err('bad-request');
    }

    let secret = config.envelopeCredential;
    try {
      secret ??= await options.getSecret(config.installId, credential.secret);
    } catch (e) {
      // The error text comes from the secrets store, never the value: safe to log.
      services.log('error', `ui-proxy: reading the install's credential failed: ${e instanceof Error ? e.message : String(e)}`);
      return err('internal');
    }

    const headers: HttpHeader[] = [
      { name: 'x-alga-tenant', value: ctx.tenantId },
      { name: 'x-alga-extension', value: ctx.extensionId },
      { name: 'x-alga-install', value: config.installId },
      { name: 'x-request-id', value: ctx.requestId },
    ];
    // the names Alga's runner sends, for upstreams written against it
    if (config.prefixExtension) {
      headers.push({ name: 'x-ext-install-id', value: config.installId });
      if (ctx.versionId) headers.push({ name: 'x-ext-version-id', value: ctx.versionId });
    }
    if (ctx.user) headers.push({ name: 'x-alga-user-id', value: ctx.user.userId });
    if (secret !== undefined) headers.push({ name: credential.header, value: secret });
    if (payload) headers.push({ name: 'content-type', value: looksLikeJson(payload) ? 'application/json' : 'application/octet-stream' });

    const result = await guardedFetch({ method: payload ? 'POST' : 'GET', url: target.href, headers, body: payload }, config.policy, { signal: services.signal });
    if (result.kind === 'err') {
      services.log('warn', `ui-proxy ${route.slice(0, 200)}: upstream unreachable (${result.code}): ${result.reason}`);
      return err('internal');
    }
    const { status, body } = result.response;
    if (status >= 200 && status < 300) return ok(body);
    const code = proxyErrorForStatus(status);
    const why = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
    services.log('warn', `ui-proxy ${route.slice(0, 200)}: upstream answered ${status}${why} → ${code}`);
    return err(code);
  }

  return defineCapability<UiProxyConfig, null>({
    name: UI_PROXY_CAPABILITY,
    grantedByDefault: false,
    configure(install) {
      if (!install.uiProxy) return { kind: 'none' };
      let base: URL;
      try {
        base = new URL(install.uiProxy.baseUrl);
      } catch {
        return { kind: 'invalid', reason: 'base URL does not parse' };
      }
      if (base.protocol !== 'http:' && base.protocol !== 'https:') return { kind: 'invalid', reason: `base URL scheme ${base.protocol} is not http or https` };
      if (base.username !== '' || base.password !== '') return { kind: 'invalid', reason: 'base URL must not carry credentials (use the install secret)' };
      const compiled = EgressAllowlist.compile([`${base.protocol}//${base.host}`]);
      if (!compiled.ok) return { kind: 'invalid', reason: compiled.errors.join('; ') };
      const envelope = install.envelopeSecrets;
      return {
        kind: 'ready',
        installId: install.installId,
        prefixExtension: install.uiProxy.prefixExtension === true,
        ...(envelope && Object.hasOwn(envelope, credential.secret) && { envelopeCredential: envelope[credential.secret] }),
        base,
        policy: {
          allowlist: compiled.allowlist,
          allowPrivate: true,
          resolve: options.resolve,
          redirects: 'return',
          limits: { timeoutMs: limits.timeoutMs, maxResponseBytes: limits.maxResponseBytes, maxRequestBytes: limits.maxPayloadBytes },
        },
      };
    },
    prepare() {
      return null;
    },
    interfaces: [
      serve(UI_PROXY_INTERFACE, {
        functions: {
          call: ({ args, ctx, config, services }) => call(args[0], args[1], ctx, config, services),
        },
        denied: { call: err('denied') },
      }),
    ],
  });
}

/** base path + route, refusing anything the URL parser would move off the base origin or path. */
function joinUnderBase(base: URL, route: string): URL | null {
  const basePath = base.pathname.replace(/\/+$/, '');
  let target: URL;
  try {
    target = new URL(`${base.origin}${basePath}${route}`);
  } catch {
    return null;
  }
  if (target.origin !== base.origin) return null;
  if (target.pathname !== basePath && !target.pathname.startsWith(`${basePath}/`)) return null;
  return target;
}

function looksLikeJson(bytes: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return true;
  } catch {
    return false;
  }
}
