/**
 * Demo extension: a friendly guest with a UI (examples/demo/ui). Its page calls these routes
 * through the runner's dev gateway (`/api/ext/<extension>/hello`) and shows what they answer.
 *
 *   GET /hello    a greeting for the tenant, with a visit count kept in the install's storage
 *   GET /clients  the tenant's first clients, by name
 */
import type { ExecuteRequest, ExecuteResponse } from 'alga:extension/types';
import { getContext } from 'alga:extension/context';
import { get as storageGet, put as storagePut } from 'alga:extension/storage';
import { info } from 'alga:extension/logging';
import { listClients } from 'alga:extension/clients';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function json(status: number, value: unknown): ExecuteResponse {
  return { status, headers: [{ name: 'content-type', value: 'application/json' }], body: encoder.encode(JSON.stringify(value)) };
}

/**
 * A host call's `err` result arrives as a thrown object carrying the error in `payload` (from the
 * bindings' realm, so not `instanceof Error` here): return it as a code, rethrow anything else.
 */
function hostError(thrown: unknown): string {
  if (thrown !== null && typeof thrown === 'object' && 'payload' in thrown) return String((thrown as { payload: unknown }).payload);
  throw thrown;
}

/** One more visit in the install's storage; null when the install may not use storage. */
function countVisit(): number | null {
  try {
    let previous = 0;
    try {
      previous = Number(decoder.decode(storageGet('demo', 'visits').value)) || 0;
    } catch (thrown) {
      if (hostError(thrown) !== 'missing') throw thrown;
    }
    storagePut({ namespace: 'demo', key: 'visits', value: encoder.encode(String(previous + 1)), revision: undefined });
    return previous + 1;
  } catch (thrown) {
    hostError(thrown);
    return null;
  }
}

function hello(): ExecuteResponse {
  const context = getContext();
  const visits = countVisit();
  info(`demo: said hello to tenant ${context.tenantId} (visit ${visits ?? 'uncounted'})`);
  return json(200, {
    message: `Hello, ${context.tenantId}! Greetings from the demo extension, running inside WebAssembly.`,
    tenant: context.tenantId,
    visits,
  });
}

function clients(): ExecuteResponse {
  try {
    const page = listClients({ search: undefined, includeInactive: undefined, page: 1, pageSize: 10 });
    return json(200, { total: page.totalCount, clients: page.items.map((c) => ({ id: c.clientId, name: c.clientName })) });
  } catch (thrown) {
    return json(403, { error: hostError(thrown) });
  }
}

export function handler(request: ExecuteRequest): ExecuteResponse {
  const path = new URL(request.http.url, 'http://guest.invalid').pathname;
  if (request.http.method === 'GET' && path === '/hello') return hello();
  if (request.http.method === 'GET' && path === '/clients') return clients();
  return json(404, { error: 'not_found', path });
}
