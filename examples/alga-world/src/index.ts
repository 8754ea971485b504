/**
 * A guest built against Alga PSA's own world (wit/alga/world.wit, via build.json), so it imports
 * every interface of that world — scheduler and invoicing included — as anything componentize-js
 * builds for Alga does. Routes (JSON in, JSON out; a WIT `err` comes back as `{err: code}`):
 *
 *   GET  /schedules                 scheduler.list-schedules
 *   GET  /schedules/get?id=         scheduler.get-schedule
 *   POST /schedules/create          scheduler.create-schedule (body: create-schedule-input; an object payload is sent as JSON text)
 *   POST /schedules/update?id=      scheduler.update-schedule (body: update-schedule-input)
 *   POST /schedules/delete?id=      scheduler.delete-schedule
 *   GET  /endpoints                 scheduler.get-endpoints
 *   POST /invoice                   invoicing.create-manual-invoice (body: create-manual-invoice-input)
 *   POST /heartbeat                 a schedulable endpoint: counts its runs in storage (runs/count) and logs its body
 *   GET  /status, /runs             context and the run count
 */
import type { ExecuteRequest, ExecuteResponse, CreateScheduleInput, UpdateScheduleInput, CreateManualInvoiceInput } from 'alga:extension/types';
import { getContext } from 'alga:extension/context';
import { get as storageGet, put as storagePut } from 'alga:extension/storage';
import { logInfo } from 'alga:extension/logging';
import { listSchedules, getSchedule, createSchedule, updateSchedule, deleteSchedule, getEndpoints } from 'alga:extension/scheduler';
import { createManualInvoice } from 'alga:extension/invoicing';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Outcome<T> = { ok: T } | { err: string };

/** A WIT `err` arrives as a thrown value whose `payload` is the error case (see examples/README.md). */
function attempt<T>(call: () => T): Outcome<T> {
  try {
    return { ok: call() };
  } catch (thrown) {
    if (thrown !== null && typeof thrown === 'object' && 'payload' in thrown) return { err: String((thrown as { payload: unknown }).payload) };
    throw thrown;
  }
}

function json(status: number, value: unknown): ExecuteResponse {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : ArrayBuffer.isView(v) ? decoder.decode(v) : v));
  return { status, headers: [{ name: 'content-type', value: 'application/json' }], body: encoder.encode(text) };
}

function body(request: ExecuteRequest): Record<string, unknown> {
  const text = request.http.body ? decoder.decode(request.http.body) : '';
  if (!text) return {};
  const parsed: unknown = JSON.parse(text);
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

/** A payload given as JSON (object/array) is sent as its text; a string is sent as is (it may be invalid JSON on purpose). */
function payloadText(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function runCount(): number {
  const found = attempt(() => storageGet('runs', 'count'));
  return 'ok' in found ? Number(decoder.decode(found.ok.value)) : 0;
}

type Route = (query: URLSearchParams, request: ExecuteRequest) => ExecuteResponse;

const routes: Record<string, Route> = {
  '/schedules': () =>
    json(
      200,
      attempt(() => listSchedules()),
    ),
  '/schedules/get': (q) =>
    json(
      200,
      attempt(() => getSchedule(q.get('id') ?? '') ?? null),
    ),
  '/schedules/create': (_q, request) => {
    const b = body(request);
    const input = { ...b, payload: payloadText(b['payload']) } as unknown as CreateScheduleInput;
    return json(200, createSchedule(input));
  },
  '/schedules/update': (q, request) => {
    const b = body(request);
    const input = { ...b, payload: payloadText(b['payload']) } as unknown as UpdateScheduleInput;
    return json(200, updateSchedule(q.get('id') ?? '', input));
  },
  '/schedules/delete': (q) => json(200, deleteSchedule(q.get('id') ?? '')),
  '/endpoints': () =>
    json(
      200,
      attempt(() => getEndpoints()),
    ),
  '/invoice': (_q, request) => json(200, createManualInvoice(body(request) as unknown as CreateManualInvoiceInput)),
  '/heartbeat': (_q, request) => {
    const runs = runCount() + 1;
    storagePut({ namespace: 'runs', key: 'count', value: encoder.encode(String(runs)), revision: undefined });
    logInfo(`heartbeat ${runs}: ${request.http.body ? decoder.decode(request.http.body) : '(no body)'}`);
    return json(200, { runs });
  },
  '/runs': () => json(200, { runs: runCount() }),
  '/status': () => json(200, { context: getContext() }),
};

export function handler(request: ExecuteRequest): ExecuteResponse {
  const url = new URL(request.http.url, 'http://guest.invalid');
  const route = routes[url.pathname];
  if (!route) return json(404, { error: 'not_found', path: url.pathname });
  return route(url.searchParams, request);
}
