/**
 * Alga PSA's three callers of `POST /v1/execute`, field by field, and what each does with the
 * answer — reproduced from the public Nine-Minds/alga-psa repository at 432f5f5887, not taken from it:
 *
 * - the extension proxy (packages/product-ext-proxy): ee/handler.ts builds the body (context with
 *   Alga's ids and config; http with the effective method, the pathname as `url` and `path`, the
 *   query, the browser's headers through shared/gateway-utils.ts filterRequestHeaders — which adds
 *   an `x-idempotency-key` to the guest's headers of a non-GET request —, body_b64; limits;
 *   providers; secret_envelope; endpoint; user) and the runner headers; ee/runner-backend.ts posts
 *   it with content-type, x-request-id, x-runner-service-token (only when Alga has
 *   RUNNER_SERVICE_TOKEN) and those headers lower-cased. A transport status other than 2xx becomes
 *   the browser's status with `{error: "bad_gateway", requestId}`; otherwise the browser gets the
 *   answer's `status` (200 when absent), its headers through the response allowlist, and body_b64.
 * - the API route (server/src/app/api/ext/[extensionId]/[[...path]]/route.ts): no token; the
 *   caller's `x-idempotency-key` or the request id on a non-GET request as a transport header;
 *   http without `url`, the guest's headers through server/src/lib/extensions/gateway/headers.ts
 *   (no idempotency key among them) plus tenant and extension; providers, secret_envelope and user
 *   only when there are any. An empty or non-JSON answer, or a transport status ≥ 400, is
 *   `502 {error: "bad_gateway", requestId}`; otherwise the answer's status (the transport's when
 *   absent), the transport's headers through the route's allowlist, and body_b64.
 * - the scheduled-job handler (packages/jobs/src/lib/handlers/extensionScheduledInvocationHandler.ts):
 *   no token; a fresh request id that is also the idempotency key; `context.trigger: "schedule"`,
 *   `context.schedule_id`; the endpoint's method and path, no query, only tenant and extension as
 *   headers, the schedule's payload as JSON body (none for GET); providers and secret_envelope only
 *   when there are any. The run fails with "Runner returned empty body (http N)", "… non-JSON
 *   response (http N)", "Runner response too large …" (over 262 144 bytes) or "Runner returned
 *   status N" when the answer's status (else the transport's) is ≥ 400; else it succeeded.
 */
import { randomUUID } from 'node:crypto';

export interface AlgaInstallIds {
  readonly tenantId: string;
  /** Alga's registry id of the extension */
  readonly registryId: string;
  readonly installId: string;
  readonly versionId: string;
  readonly contentHash: string;
}

/** What Alga's install config holds for a call (getInstallConfig / getInstallConfigByInstallId). */
export interface AlgaInstallConfig {
  readonly providers: readonly string[];
  readonly secretEnvelope?: unknown;
  readonly config?: Record<string, string>;
}

export interface ProxyRequestOptions extends AlgaInstallConfig {
  readonly method?: string;
  /** JSON body of the browser's request */
  readonly body?: unknown;
  /** Alga's RUNNER_SERVICE_TOKEN, when set on Alga's side */
  readonly serviceToken?: string;
  /** a context field left out (to test the refusal) */
  readonly omit?: 'install_id';
  /** the browser's own x-idempotency-key */
  readonly browserIdempotencyKey?: string;
}

export interface AlgaRequest {
  readonly requestId: string;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
}

const BROWSER = { accept: 'application/json', 'user-agent': 'Mozilla/5.0', 'accept-language': 'en', cookie: 'session=s', authorization: 'Bearer end-user' };
const USER = { user_id: 'u-1', user_email: 'ada@example.com', user_name: 'Ada L', user_type: 'internal', client_name: 'Acme', client_id: undefined, additional_fields: undefined };

function splitTarget(target: string): { pathname: string; query: Record<string, string> } {
  const [pathname = '', search = ''] = target.split('?');
  return { pathname, query: Object.fromEntries(new URLSearchParams(search)) };
}

/** Headers and body of the extension proxy's call for `target` (a path with an optional query). */
export function algaProxyRequest(a: AlgaInstallIds, target: string, o: ProxyRequestOptions): AlgaRequest {
  const requestId = randomUUID();
  const { pathname, query } = splitTarget(target);
  const method = o.method ?? 'GET';
  const bodyBuf = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  const browser: Record<string, string> = {
    ...BROWSER,
    ...(bodyBuf ? { 'content-type': 'application/json' } : {}),
    ...(o.browserIdempotencyKey ? { 'x-idempotency-key': o.browserIdempotencyKey } : {}),
  };
  // shared/gateway-utils.ts filterRequestHeaders(req.headers, tenantId, registryId, requestId, method)
  const allow = ['accept', 'content-type', 'accept-encoding', 'user-agent', 'x-request-id', 'x-alga-tenant', 'x-alga-extension', 'x-idempotency-key'];
  const guestHeaders: Record<string, string> = Object.fromEntries(Object.entries(browser).filter(([k]) => k !== 'authorization' && allow.includes(k)));
  guestHeaders['x-request-id'] = requestId;
  guestHeaders['x-alga-tenant'] = a.tenantId;
  guestHeaders['x-alga-extension'] = a.registryId;
  if (method !== 'GET') guestHeaders['x-idempotency-key'] = guestHeaders['x-idempotency-key'] ?? randomUUID();
  const context: Record<string, unknown> = {
    request_id: requestId,
    tenant_id: a.tenantId,
    extension_id: a.registryId,
    install_id: a.installId,
    version_id: a.versionId,
    content_hash: a.contentHash,
    config: o.config ?? { region: 'eu' },
  };
  if (o.omit) delete context[o.omit];
  const body = {
    context,
    http: { method, url: pathname, path: pathname, query, headers: guestHeaders, body_b64: bodyBuf?.toString('base64') },
    limits: { timeout_ms: 30000 },
    providers: o.providers,
    secret_envelope: o.secretEnvelope ?? undefined,
    endpoint: `ui-proxy:${pathname}`,
    user: USER,
  };
  // configVersion and secretsVersion are sent only when the install config has them
  const runnerHeaders = {
    'x-alga-tenant': a.tenantId,
    'x-alga-extension': a.registryId,
    'x-ext-install-id': a.installId,
    'x-ext-version-id': a.versionId,
    'x-ext-registry-id': a.registryId,
    'x-ext-config-version': '3',
    'x-ext-secrets-version': '2',
  };
  // runner-backend.ts execute(): content-type, x-request-id, the token, then options.headers lower-cased
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId, ...(o.serviceToken ? { 'x-runner-service-token': o.serviceToken } : {}), ...runnerHeaders };
  return { requestId, headers, body: JSON.parse(JSON.stringify(body)) as Record<string, unknown> };
}

export interface ApiRouteRequestOptions extends AlgaInstallConfig {
  readonly method?: string;
  readonly body?: unknown;
  /** the caller's x-idempotency-key (else the request id, on a non-GET request) */
  readonly idempotencyKey?: string;
  /** the session's user; null: none (the route then sends no `user`) */
  readonly user?: Record<string, unknown> | null;
}

/** Headers and body of the API route's call. */
export function algaApiRouteRequest(a: AlgaInstallIds, target: string, o: ApiRouteRequestOptions): AlgaRequest {
  const requestId = randomUUID();
  const { pathname, query } = splitTarget(target);
  const method = (o.method ?? 'GET').toUpperCase();
  const bodyBuf = method === 'GET' ? undefined : Buffer.from(o.body === undefined ? '' : JSON.stringify(o.body));
  const browser: Record<string, string> = { ...BROWSER, 'x-request-id': requestId, ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}) };
  // gateway/headers.ts filterRequestHeaders: these five, authorization never; then tenant and extension
  const allow = ['x-request-id', 'accept', 'content-type', 'accept-encoding', 'user-agent'];
  const guestHeaders: Record<string, string> = Object.fromEntries(Object.entries(browser).filter(([k]) => allow.includes(k)));
  guestHeaders['x-alga-tenant'] = a.tenantId;
  guestHeaders['x-alga-extension'] = a.registryId;
  const idempotencyKey = method === 'GET' ? undefined : (o.idempotencyKey ?? requestId);
  const user = o.user === undefined ? { user_id: 'u-2', user_email: 'grace@example.com', user_name: 'Grace H', company_name: 'Acme', user_type: 'client', client_id: 'client-7' } : o.user;
  const body = {
    context: { request_id: requestId, tenant_id: a.tenantId, extension_id: a.registryId, install_id: a.installId, content_hash: a.contentHash, version_id: a.versionId, config: o.config ?? {} },
    http: { method, path: pathname, query, headers: guestHeaders, body_b64: bodyBuf?.toString('base64') },
    limits: { timeout_ms: 30000 },
    ...(o.providers.length ? { providers: o.providers } : {}),
    ...(o.secretEnvelope ? { secret_envelope: o.secretEnvelope } : {}),
    ...(user ? { user } : {}),
  };
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-request-id': requestId,
    'x-alga-tenant': a.tenantId,
    'x-alga-extension': a.registryId,
    ...(idempotencyKey ? { 'x-idempotency-key': idempotencyKey } : {}),
  };
  return { requestId, headers, body: JSON.parse(JSON.stringify(body)) as Record<string, unknown> };
}

export interface ScheduleRow {
  readonly scheduleId: string;
  /** the schedule's endpoint (Alga's extension_api_endpoint row) */
  readonly method: string;
  readonly path: string;
  /** payload_json */
  readonly payload?: unknown;
}

/** Headers and body of the scheduled-job handler's call for one due schedule. */
export function algaScheduledJobRequest(a: AlgaInstallIds, schedule: ScheduleRow, o: AlgaInstallConfig & { requestId?: string }): AlgaRequest {
  const requestId = o.requestId ?? randomUUID();
  const method = schedule.method.toUpperCase();
  const payload = schedule.payload ?? null;
  const bodyB64 = method === 'GET' || payload === null ? undefined : Buffer.from(JSON.stringify(payload), 'utf8').toString('base64');
  const contentHash = a.contentHash.startsWith('sha256:') ? a.contentHash : `sha256:${a.contentHash}`;
  const body = {
    context: {
      request_id: requestId,
      tenant_id: a.tenantId,
      extension_id: a.registryId,
      install_id: a.installId,
      version_id: a.versionId,
      content_hash: contentHash,
      config: o.config ?? {},
      trigger: 'schedule',
      schedule_id: schedule.scheduleId,
    },
    http: { method, path: schedule.path, query: {}, headers: { 'x-alga-tenant': a.tenantId, 'x-alga-extension': a.registryId }, body_b64: bodyB64 },
    limits: { timeout_ms: 30000 },
    ...(o.providers.length ? { providers: o.providers } : {}),
    ...(o.secretEnvelope ? { secret_envelope: o.secretEnvelope } : {}),
  };
  const headers = { 'content-type': 'application/json', 'x-request-id': requestId, 'x-idempotency-key': requestId, 'x-alga-tenant': a.tenantId, 'x-alga-extension': a.registryId };
  return { requestId, headers, body: JSON.parse(JSON.stringify(body)) as Record<string, unknown> };
}

// ---- what Alga makes of the answer --------------------------------------------------------------

/** The runner's answer on the wire. */
export interface RunnerReply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** What the browser gets from the proxy or the API route. */
export interface BrowserAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function pick(headers: Record<string, unknown> | Headers | undefined, allow: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = headers instanceof Headers ? [...headers.entries()] : Object.entries(headers ?? {});
  for (const [k, v] of entries) {
    const key = k.toLowerCase();
    if (!allow.includes(key)) continue;
    if (Array.isArray(v)) out[key] = v.join(', ');
    else if (typeof v === 'string') out[key] = v;
  }
  return out;
}

const bodyOf = (payload: Record<string, unknown>) => (typeof payload['body_b64'] === 'string' ? Buffer.from(payload['body_b64'], 'base64').toString('utf8') : '');

/** runner-backend.ts execute() and handler.ts: what the browser gets from the extension proxy. */
export function proxyBrowserAnswer(reply: RunnerReply, requestId: string): BrowserAnswer {
  if (reply.status < 200 || reply.status > 299) return { status: reply.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'bad_gateway', requestId }) };
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(reply.text) as Record<string, unknown>;
  } catch {
    // RunnerRequestError without a status: 502
    return { status: 502, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'bad_gateway', requestId }) };
  }
  const status = typeof payload['status'] === 'number' ? payload['status'] : 200;
  return { status, headers: pick(payload['headers'] as Record<string, unknown>, ['content-type', 'cache-control', 'x-ext-request-id', 'x-ext-warning']), body: bodyOf(payload) };
}

/** route.ts: what the browser gets from the API route. */
export function apiRouteBrowserAnswer(reply: RunnerReply, requestId: string): BrowserAnswer {
  const badGateway = { status: 502, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'bad_gateway', requestId }) };
  if (!reply.text) return badGateway;
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(reply.text) as Record<string, unknown>;
  } catch {
    return badGateway;
  }
  const status = typeof payload['status'] === 'number' ? payload['status'] : reply.status;
  if (reply.status >= 400) return badGateway;
  return { status, headers: pick(reply.headers, ['content-type', 'cache-control', 'etag']), body: bodyOf(payload) };
}

/** extensionScheduledInvocationHandler.ts: the run's outcome, as it records it in last_run_status/last_error. */
export function scheduledJobOutcome(reply: RunnerReply): { status: 'success' | 'error'; error: string | null } {
  const bytes = Buffer.byteLength(reply.text, 'utf8');
  if (bytes > 262_144) return { status: 'error', error: `Runner response too large (${bytes} bytes; max 262144)` };
  if (!reply.text) return { status: 'error', error: `Runner returned empty body (http ${reply.status})` };
  try {
    const payload = JSON.parse(reply.text) as Record<string, unknown>;
    const out = Number(payload['status'] ?? reply.status);
    return out >= 400 ? { status: 'error', error: `Runner returned status ${out}` } : { status: 'success', error: null };
  } catch {
    return { status: 'error', error: `Runner returned non-JSON response (http ${reply.status})` };
  }
}

/** Sends a caller's request as Alga does (fetch, POST, JSON) and returns the reply on the wire. */
export async function sendToRunner(runnerUrl: string, request: AlgaRequest): Promise<RunnerReply> {
  const response = await fetch(`${runnerUrl}/v1/execute`, { method: 'POST', headers: request.headers, body: JSON.stringify(request.body) });
  return { status: response.status, headers: response.headers, text: await response.text() };
}
