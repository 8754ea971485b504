/**
 * Our equivalent of Alga PSA's sample extensions (sdk/samples/component/* and
 * ee/extensions/samples/client-portal-test in Nine-Minds/alga-psa): written here, not copied, it
 * makes the same host calls and gives the same kind of answers, one route prefix per sample. Built
 * against Alga's world (build.json), it imports every interface of it, as Alga's builds do.
 * docs/alga.md, "Alga's samples", maps each sample to its routes here and to the test.
 *
 *   /client-service-read  GET /api/clients, /api/services: clients.list-clients, services.list-services (page 1 of 10)
 *   /invoicing            GET|POST /api/status; POST /api/create-manual-invoice: checks the body, invoicing.create-manual-invoice
 *   /scheduler            GET /api/status, POST /api/heartbeat (schedulable); POST /api/setup: creates its two schedules
 *                         unless there; GET /api/schedules; DELETE /api/schedules/{id}
 *   /secrets              GET: secrets.list-keys, secrets.get("greeting")
 *   /service-proxy        GET ?limit=&base=, POST /proxy/tickets {limit, base}: secrets.get("ALGA_API_KEY"), then
 *                         http.fetch {base}/api/tickets?limit= with x-api-key
 *   /client-portal        GET: context, user-v2 and user
 */
import type { ExecuteRequest, ExecuteResponse, ManualInvoiceItemInput } from 'alga:extension/types';
import { getContext } from 'alga:extension/context';
import { get as getSecret, listKeys } from 'alga:extension/secrets';
import { fetch as httpFetch } from 'alga:extension/http';
import { logInfo, logWarn } from 'alga:extension/logging';
import { getUser as getUserV1 } from 'alga:extension/user';
import { getUser } from 'alga:extension/user-v2';
import { listClients } from 'alga:extension/clients';
import { listServices } from 'alga:extension/services';
import { listSchedules, createSchedule, deleteSchedule } from 'alga:extension/scheduler';
import { createManualInvoice } from 'alga:extension/invoicing';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function json(value: unknown, status = 200): ExecuteResponse {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
  return { status, headers: [{ name: 'content-type', value: 'application/json' }], body: encoder.encode(text) };
}

/** A WIT `err` arrives as a thrown value carrying the error case in `payload`. */
function errorCode(thrown: unknown): string {
  return thrown !== null && typeof thrown === 'object' && 'payload' in thrown ? String((thrown as { payload: unknown }).payload) : String(thrown);
}

function bodyOf(request: ExecuteRequest): Record<string, unknown> {
  const text = request.http.body ? decoder.decode(request.http.body) : '';
  if (!text) return {};
  const parsed: unknown = JSON.parse(text);
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

function healthy() {
  const ctx = getContext();
  return json({ status: 'healthy', tenant: ctx.tenantId, extension: ctx.extensionId });
}

// ---- client-service-read-demo ----
function clientServiceRead(method: string, path: string): ExecuteResponse {
  if (method !== 'GET') return json({ error: 'method_not_allowed' }, 405);
  try {
    if (path === '/api/clients') return json({ clients: listClients({ page: 1, pageSize: 10, includeInactive: false }) });
    if (path === '/api/services') return json({ services: listServices({ page: 1, pageSize: 10, itemKind: 'service' }) });
  } catch (e) {
    return json({ error: errorCode(e) }, 500);
  }
  return json({ error: 'not_found' }, 404);
}

// ---- invoicing-demo ----
function invoicing(method: string, path: string, request: ExecuteRequest): ExecuteResponse {
  if (path === '/api/status') return healthy();
  if (method !== 'POST' || path !== '/api/create-manual-invoice') return json({ error: 'not_found' }, 404);
  const body = bodyOf(request);
  const fieldErrors: Record<string, string> = {};
  const clientId = typeof body['clientId'] === 'string' ? body['clientId'].trim() : '';
  if (!clientId) fieldErrors['clientId'] = 'clientId is required.';
  const raw = Array.isArray(body['items']) ? (body['items'] as Record<string, unknown>[]) : [];
  if (raw.length === 0) fieldErrors['items'] = 'items must be a non-empty array.';
  const items: ManualInvoiceItemInput[] = raw.map((item, i) => {
    const serviceId = typeof item['serviceId'] === 'string' ? item['serviceId'] : '';
    const quantity = Number(item['quantity']);
    const description = typeof item['description'] === 'string' ? item['description'].trim() : '';
    const rate = Number(item['rate']);
    if (!serviceId) fieldErrors[`items.${i}.serviceId`] = 'serviceId is required.';
    if (!(quantity > 0)) fieldErrors[`items.${i}.quantity`] = 'quantity must be > 0.';
    if (!description) fieldErrors[`items.${i}.description`] = 'description is required.';
    if (!(rate >= 0)) fieldErrors[`items.${i}.rate`] = 'rate must be >= 0.';
    return { serviceId, quantity, description, rate, isDiscount: undefined, discountType: undefined, appliesToItemId: undefined, appliesToServiceId: undefined };
  });
  if (Object.keys(fieldErrors).length > 0) return json({ error: 'validation_failed', fieldErrors }, 400);
  const result = createManualInvoice({ clientId, items, invoiceDate: undefined, dueDate: undefined, poNumber: undefined });
  return json(result, result.success ? 200 : 400);
}

// ---- scheduler-demo ----
const PREFIX = '/scheduler';

function scheduler(method: string, path: string): ExecuteResponse {
  if (method === 'GET' && path === '/api/status') return healthy();
  if (method === 'POST' && path === '/api/heartbeat') {
    logInfo('alga-samples: scheduled heartbeat');
    return json({ event: 'heartbeat', tenant: getContext().tenantId });
  }
  try {
    if (method === 'POST' && path === '/api/setup') {
      const existing = listSchedules();
      const wanted = [
        { name: 'Heartbeat Check', endpoint: `POST ${PREFIX}/api/heartbeat`, path: `${PREFIX}/api/heartbeat`, cron: '*/5 * * * *' },
        { name: 'Daily Status Check', endpoint: `GET ${PREFIX}/api/status`, path: `${PREFIX}/api/status`, cron: '0 9 * * *' },
      ];
      const results = wanted.map((w) => {
        if (existing.some((s) => s.name === w.name || s.endpointPath === w.path)) return { name: w.name, success: true, skipped: true };
        const r = createSchedule({ endpoint: w.endpoint, cron: w.cron, timezone: 'UTC', enabled: true, name: w.name, payload: JSON.stringify({ source: 'setup' }) });
        if (!r.success) logWarn(`alga-samples: schedule ${w.name} refused: ${r.error ?? ''}`);
        return { name: w.name, success: r.success, scheduleId: r.scheduleId, error: r.error };
      });
      return json({ results }, results.every((r) => r.success) ? 200 : 207);
    }
    if (method === 'GET' && path === '/api/schedules') {
      const schedules = listSchedules();
      return json({ count: schedules.length, schedules });
    }
    if (method === 'DELETE' && path.startsWith('/api/schedules/')) {
      const scheduleId = path.slice('/api/schedules/'.length);
      const r = deleteSchedule(scheduleId);
      return r.success ? json({ deleted: scheduleId }) : json({ error: r.error ?? 'delete failed' }, r.error === 'Schedule not found' ? 404 : 400);
    }
  } catch (e) {
    return json({ error: errorCode(e) }, 500);
  }
  return json({ error: 'not_found' }, 404);
}

// ---- secrets-demo ----
function secrets(): ExecuteResponse {
  const available = listKeys();
  if (!available.includes('greeting')) return json({ error: 'secret_missing', availableSecrets: available }, 404);
  try {
    return json({ message: getSecret('greeting') });
  } catch (e) {
    return json({ error: 'secret_error', detail: errorCode(e) }, 500);
  }
}

// ---- service-proxy-demo ----
function serviceProxy(path: string, query: URLSearchParams, request: ExecuteRequest): ExecuteResponse {
  const fromProxy = path.startsWith('/proxy/');
  const body = fromProxy ? bodyOf(request) : {};
  const limit = Number(fromProxy ? body['limit'] : query.get('limit')) || 10;
  const base = String((fromProxy ? body['base'] : query.get('base')) ?? 'https://api.alga-psa.local');
  let apiKey: string;
  try {
    apiKey = getSecret('ALGA_API_KEY');
  } catch {
    // 200, as the sample does, so proxies in between do not retry
    return json({ ok: false, error: 'missing_alga_api_key', fromProxy, limit });
  }
  try {
    const response = httpFetch({ method: 'GET', url: `${base}/api/tickets?limit=${limit}`, headers: [{ name: 'x-api-key', value: apiKey }], body: undefined });
    const text = response.body ? decoder.decode(response.body) : '';
    const tickets = response.status === 200 ? ((JSON.parse(text) as { data?: unknown[] }).data ?? []) : [];
    return json({ ok: response.status === 200, tickets, upstreamStatus: response.status, limit, fromProxy });
  } catch (e) {
    return json({ ok: false, tickets: [], upstreamStatus: 502, error: errorCode(e), limit, fromProxy });
  }
}

// ---- client-portal-test ----
function clientPortal(): ExecuteResponse {
  const ctx = getContext();
  let user: unknown = null;
  let userError: string | null = null;
  let clientName: string | null = null;
  try {
    user = getUser();
    clientName = getUserV1().clientName;
  } catch (e) {
    userError = errorCode(e);
  }
  return json({ ok: true, context: { tenantId: ctx.tenantId, extensionId: ctx.extensionId, installId: ctx.installId ?? null }, user, userError, clientName });
}

export function handler(request: ExecuteRequest): ExecuteResponse {
  const url = new URL(request.http.url, 'http://guest.invalid');
  const method = request.http.method.toUpperCase();
  const [, sample = '', ...rest] = url.pathname.split('/');
  const path = `/${rest.join('/')}`;
  switch (sample) {
    case 'client-service-read':
      return clientServiceRead(method, path);
    case 'invoicing':
      return invoicing(method, path, request);
    case 'scheduler':
      return scheduler(method, path);
    case 'secrets':
      return secrets();
    case 'service-proxy':
      return serviceProxy(path, url.searchParams, request);
    case 'client-portal':
      return clientPortal();
    default:
      return json({ error: 'not_found', path: url.pathname }, 404);
  }
}
