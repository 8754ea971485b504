/**
 * Kitchen-sink guest: one route per host call of the `alga:extension/runner` world, plus routes
 * that exercise the engine's limits (trap, loop, memory) and its locked-down WASI (clocks, random,
 * stdio). Tests, the benchmark and the demo drive it by path; every route answers JSON.
 */
import type { ExecuteRequest, ExecuteResponse, HttpHeader } from 'alga:extension/types';
import type { ServiceBillingMethod, ServiceItemKind } from 'alga:extension/types';
import { getContext } from 'alga:extension/context';
import { get as getSecret, list as listSecrets } from 'alga:extension/secrets';
import { fetch as httpFetch } from 'alga:extension/http';
import { get as storageGet, put as storagePut, delete as storageDelete, list as storageList } from 'alga:extension/storage';
import { info, warn, error as logError } from 'alga:extension/logging';
import { call as proxyCall } from 'alga:extension/ui-proxy';
import { getUser } from 'alga:extension/user-v2';
import { listClients, getClient } from 'alga:extension/clients';
import { listServices, getService } from 'alga:extension/services';
import { attempt, unit, type Outcome } from './outcome.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Module state that must read 1 on every request under fresh-instance semantics. */
let counter = 0;
/** Written by `/loop` so the loop has an observable effect and cannot be optimised away. */
let spins = 0;

type Query = URLSearchParams;
type Route = (query: Query, request: ExecuteRequest) => ExecuteResponse;

/**
 * JSON with bytes shown as UTF-8 text and u64 values as decimal strings. Byte lists from the host
 * (and the request body) are Uint8Arrays of the bindings' realm, not `instanceof Uint8Array`
 * here, hence `ArrayBuffer.isView`.
 */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (ArrayBuffer.isView(v)) return decoder.decode(v);
    return v;
  });
}

function json(status: number, value: unknown): ExecuteResponse {
  return {
    status,
    headers: [{ name: 'content-type', value: 'application/json' }],
    body: encoder.encode(toJson(value)),
  };
}

function bodyText(request: ExecuteRequest): string {
  return request.http.body ? decoder.decode(request.http.body) : '';
}

/** Thrown by a route when the caller sent something unusable; answered with 400. */
class BadRequest extends Error {}

function bodyJson(request: ExecuteRequest): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(bodyText(request));
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through to the uniform error below
  }
  throw new BadRequest('body must be a JSON object');
}

function required(query: Query, name: string): string {
  const v = query.get(name);
  if (v === null) throw new BadRequest(`query parameter "${name}" is required`);
  return v;
}

function optionalInt(query: Query, name: string): number | undefined {
  const v = query.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new BadRequest(`query parameter "${name}" must be a non-negative integer`);
  return n;
}

function optionalBool(query: Query, name: string): boolean | undefined {
  const v = query.get(name);
  if (v === null) return undefined;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new BadRequest(`query parameter "${name}" must be true or false`);
}

function optionalString(query: Query, name: string): string | undefined {
  return query.get(name) ?? undefined;
}

const outcome = (result: Outcome<unknown>): ExecuteResponse => json(200, result);

function log(level: string | null, message: string): void {
  if (level === 'warn') warn(message);
  else if (level === 'error') logError(message);
  else info(message);
}

function clientsInput(query: Query) {
  return {
    search: optionalString(query, 'search'),
    includeInactive: optionalBool(query, 'include_inactive'),
    page: optionalInt(query, 'page'),
    pageSize: optionalInt(query, 'page_size'),
  };
}

function servicesInput(query: Query) {
  return {
    search: optionalString(query, 'search'),
    itemKind: optionalString(query, 'item_kind') as ServiceItemKind | undefined,
    isActive: optionalBool(query, 'is_active'),
    billingMethod: optionalString(query, 'billing_method') as ServiceBillingMethod | undefined,
    page: optionalInt(query, 'page'),
    pageSize: optionalInt(query, 'page_size'),
  };
}

function httpResponseView(call: () => ReturnType<typeof httpFetch>) {
  return attempt(() => {
    const r = call();
    return { status: r.status, headers: r.headers.map((h) => [h.name, h.value]), body: r.body };
  });
}

function parseHeaders(value: unknown): HttpHeader[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new BadRequest('headers must be a list of [name, value] pairs');
  return value.map((pair: unknown) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new BadRequest('headers must be a list of [name, value] pairs');
    }
    return { name: pair[0], value: pair[1] };
  });
}

function stringField(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (typeof v !== 'string') throw new BadRequest(`body field "${name}" must be a string`);
  return v;
}

/** The optional u64 `revision` of a put: a non-negative integer or its decimal string. */
function revisionField(body: Record<string, unknown>): bigint | undefined {
  const v = body['revision'];
  if (v === undefined || v === null) return undefined;
  if ((typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'string' && /^[0-9]+$/.test(v))) {
    return BigInt(v);
  }
  throw new BadRequest('body field "revision" must be a non-negative integer or its decimal string');
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Exactly seven host calls, one per capability the benchmark's "7 host calls" handler makes. */
function seven(): ExecuteResponse {
  const ctx = getContext();
  info(`seven: request ${ctx.requestId ?? '-'}`);
  const before = attempt(() => storageGet('bench', 'seven'));
  const after = attempt(() => storagePut({ namespace: 'bench', key: 'seven', value: encoder.encode('7'), revision: undefined }));
  const secret = attempt(() => getSecret('bench'));
  const user = attempt(() => getUser());
  const clients = attempt(() => listClients({ search: undefined, includeInactive: undefined, page: 1, pageSize: 5 }));
  return json(200, {
    tenant: ctx.tenantId,
    storage_get: 'ok' in before ? 'ok' : before.err,
    storage_put: 'ok' in after ? 'ok' : after.err,
    secret: 'ok' in secret ? 'ok' : secret.err,
    user: 'ok' in user ? user.ok.userId : user.err,
    clients: 'ok' in clients ? clients.ok.totalCount : clients.err,
  });
}

/** Every function of every imported interface, once; the answer maps each call to its outcome. */
function all(query: Query): ExecuteResponse {
  const fetchUrl = query.get('fetch');
  const route = query.get('route') ?? '/ping';
  const entry = { namespace: 'kitchen-sink', key: 'all', value: encoder.encode('all'), revision: undefined };
  const calls: Record<string, unknown> = {};
  calls['context.get-context'] = attempt(() => getContext());
  calls['secrets.get'] = attempt(() => getSecret('kitchen-sink'));
  calls['secrets.list'] = attempt(() => listSecrets());
  calls['http.fetch'] = fetchUrl === null ? { skipped: 'no ?fetch= url given' } : httpResponseView(() => httpFetch({ method: 'GET', url: fetchUrl, headers: [], body: undefined }));
  calls['storage.get'] = attempt(() => storageGet(entry.namespace, entry.key));
  calls['storage.put'] = attempt(() => storagePut(entry));
  calls['storage.list'] = attempt(() => storageList(entry.namespace, undefined));
  calls['storage.delete'] = attempt(unit(() => storageDelete(entry.namespace, entry.key)));
  calls['logging.info'] = attempt(unit(() => info('kitchen-sink: info')));
  calls['logging.warn'] = attempt(unit(() => warn('kitchen-sink: warn')));
  calls['logging.error'] = attempt(unit(() => logError('kitchen-sink: error')));
  calls['ui-proxy.call'] = attempt(() => proxyCall(route, undefined));
  calls['user-v2.get-user'] = attempt(() => getUser());
  calls['clients.list-clients'] = attempt(() => listClients({ search: undefined, includeInactive: undefined, page: undefined, pageSize: undefined }));
  calls['clients.get-client'] = attempt(() => getClient(query.get('client') ?? 'client-1') ?? null);
  calls['services.list-services'] = attempt(() => listServices({ search: undefined, itemKind: undefined, isActive: undefined, billingMethod: undefined, page: undefined, pageSize: undefined }));
  calls['services.get-service'] = attempt(() => getService(query.get('service') ?? 'service-1') ?? null);
  return json(200, calls);
}

function env(): ExecuteResponse {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  const answer = { now: Date.now(), random: Math.random(), bytes: hex(bytes), perf: performance.now() };
  console.log(`kitchen-sink stdout: now=${answer.now}`);
  console.error(`kitchen-sink stderr: random=${answer.random}`);
  return json(200, answer);
}

function alloc(query: Query): ExecuteResponse {
  const mb = optionalInt(query, 'mb') ?? 1;
  const blocks: Uint8Array[] = [];
  for (let i = 0; i < mb; i++) {
    // fill() touches every page, so the memory is really committed, not just reserved.
    blocks.push(new Uint8Array(1024 * 1024).fill((i % 255) + 1));
  }
  const checksum = blocks.reduce((sum, block) => sum + (block[block.length - 1] ?? 0), 0);
  return json(200, { allocated_mb: blocks.length, checksum });
}

const routes: Record<string, Route> = {
  '/noop': () => ({ status: 200, headers: [], body: undefined }),
  '/counter': () => json(200, { counter: ++counter }),
  '/seven': () => seven(),
  '/all': (q) => all(q),
  '/kv/get': (q) => outcome(attempt(() => storageGet(required(q, 'ns'), required(q, 'key')))),
  '/kv/put': (_q, req) => {
    const body = bodyJson(req);
    const entry = {
      namespace: stringField(body, 'ns'),
      key: stringField(body, 'key'),
      value: encoder.encode(stringField(body, 'value')),
      revision: revisionField(body),
    };
    return outcome(attempt(() => storagePut(entry)));
  },
  '/kv/delete': (q) => {
    const [ns, key] = [required(q, 'ns'), required(q, 'key')];
    return outcome(attempt(unit(() => storageDelete(ns, key))));
  },
  '/kv/list': (q) => outcome(attempt(() => storageList(required(q, 'ns'), optionalString(q, 'cursor')))),
  '/secrets/get': (q) => outcome(attempt(() => getSecret(required(q, 'key')))),
  '/secrets/list': () => outcome(attempt(() => listSecrets())),
  '/fetch': (_q, req) => {
    const body = bodyJson(req);
    const sent = body['body'];
    if (sent !== undefined && typeof sent !== 'string') throw new BadRequest('body field "body" must be a string');
    const request = {
      method: stringField(body, 'method'),
      url: stringField(body, 'url'),
      headers: parseHeaders(body['headers']),
      body: sent === undefined ? undefined : encoder.encode(sent),
    };
    return outcome(httpResponseView(() => httpFetch(request)));
  },
  '/proxy': (q, req) => outcome(attempt(() => proxyCall(required(q, 'route'), req.http.body))),
  '/user': () => outcome(attempt(() => getUser())),
  '/clients': (q) => {
    const input = clientsInput(q);
    return outcome(attempt(() => listClients(input)));
  },
  '/client': (q) => outcome(attempt(() => getClient(required(q, 'id')) ?? null)),
  '/services': (q) => {
    const input = servicesInput(q);
    return outcome(attempt(() => listServices(input)));
  },
  '/service': (q) => outcome(attempt(() => getService(required(q, 'id')) ?? null)),
  '/context': () => outcome(attempt(() => getContext())),
  '/log': (q) => {
    const message = q.get('msg') ?? '';
    log(q.get('level'), message);
    return outcome({ ok: null });
  },
  '/env': () => env(),
  '/echo': (_q, req) =>
    json(200, {
      method: req.http.method,
      url: req.http.url,
      headers: req.http.headers.map((h) => [h.name, h.value]),
      body: bodyText(req),
    }),
  '/throw': () => {
    throw new Error('kitchen-sink: deliberate throw');
  },
  '/loop': () => {
    while (spins >= 0) spins = (spins + 1) % 1_000_000;
    return json(500, { error: 'unreachable' });
  },
  '/alloc': (q) => alloc(q),
};

export function handler(request: ExecuteRequest): ExecuteResponse {
  const url = new URL(request.http.url, 'http://guest.invalid');
  const route = routes[url.pathname];
  if (!route) return json(404, { error: 'not_found', path: url.pathname });
  try {
    return route(url.searchParams, request);
  } catch (e) {
    if (e instanceof BadRequest) return json(400, { error: 'bad_request', message: e.message });
    throw e;
  }
}
