/**
 * Scheduler backend that asks Alga, through the internal API Alga's runner calls
 * (alga-internal-api.ts; Alga's route: ee/server/src/app/api/internal/ext-scheduler/install/[installId]/route.ts):
 *
 *   POST {base}/api/internal/ext-scheduler/install/{installId}     x-runner-auth: <token>
 *   {operation: "list"}                                   → 200 {schedules: [schedule]}
 *   {operation: "get", scheduleId}                        → 200 {schedule: schedule | null}
 *   {operation: "create", endpoint, cron, timezone?, enabled?, name?, payload?}
 *                                                         → 201 {success, scheduleId?, error?, fieldErrors?} (400 when !success)
 *   {operation: "update", scheduleId, endpoint?, cron?, timezone?, enabled?, name?, payload?}
 *                                                         → 200 {success, error?, fieldErrors?} (400 when !success)
 *   {operation: "delete", scheduleId}                     → 200 {success, error?} (400 when !success)
 *   {operation: "getEndpoints"}                           → 200 {endpoints: [{id, method, path, handler, schedulable}]}
 * A schedule is `{id, endpointPath, endpointMethod, name, cron, timezone, enabled, payload, lastRunAt,
 * lastRunStatus, lastError, createdAt}` (snake_case accepted too, as Alga's runner does); `payload`
 * is JSON (the guest gets it as JSON text). Optional fields are left out when the guest gave none;
 * `payload` is the guest's JSON text decoded (null clears it on update).
 *
 * Statuses map as in Alga's runner: 401/403 → denied, 404 → not-found, 400 → validation-failed,
 * 429 → quota-exceeded, anything else, a network failure or an unreadable body → internal. For the
 * functions answering a result record, a failed call answers `success: false`: where Alga's runner
 * then reports only the error case's name, this runner passes on Alga's own `error` and
 * `fieldErrors` when the body carries them (the same words the store backend uses).
 */
import { createAlgaInternalApi, jsonOf, upstreamMessage, type AlgaApiOptions } from './alga-internal-api.js';
import { scheduled, schedulerFailed, type EndpointInfo, type ScheduleInfo, type SchedulerBackend, type SchedulerError, type SchedulerOutcome, type SchedulerScope } from '../store/scheduler-model.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const field = (o: Json, camel: string, snake: string): unknown => (o[camel] !== undefined ? o[camel] : o[snake]);
const optionalString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function statusError(status: number): SchedulerError {
  if (status === 401 || status === 403) return 'denied';
  if (status === 404) return 'not-found';
  if (status === 400) return 'validation-failed';
  if (status === 429) return 'quota-exceeded';
  return 'internal';
}

/** A schedule row of Alga's answer, or undefined when it lacks a required field (Alga's runner skips those). */
export function parseScheduleInfo(raw: unknown): ScheduleInfo | undefined {
  if (!isObject(raw)) return undefined;
  const id = raw['id'];
  const endpointPath = field(raw, 'endpointPath', 'endpoint_path');
  const endpointMethod = field(raw, 'endpointMethod', 'endpoint_method');
  const { cron, timezone, enabled, payload } = raw;
  if (typeof id !== 'string' || typeof endpointPath !== 'string' || typeof endpointMethod !== 'string' || typeof cron !== 'string' || typeof timezone !== 'string' || typeof enabled !== 'boolean') {
    return undefined;
  }
  return {
    id,
    endpointPath,
    endpointMethod,
    name: optionalString(raw['name']),
    cron,
    timezone,
    enabled,
    payload: payload === null || payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload),
    lastRunAt: optionalString(field(raw, 'lastRunAt', 'last_run_at')),
    lastRunStatus: optionalString(field(raw, 'lastRunStatus', 'last_run_status')),
    lastError: optionalString(field(raw, 'lastError', 'last_error')),
    createdAt: optionalString(field(raw, 'createdAt', 'created_at')),
  };
}

export function parseEndpointInfo(raw: unknown): EndpointInfo | undefined {
  if (!isObject(raw)) return undefined;
  const { id, method, path, handler, schedulable } = raw;
  if (typeof id !== 'string' || typeof method !== 'string' || typeof path !== 'string' || typeof handler !== 'string' || typeof schedulable !== 'boolean') return undefined;
  return { id, method, path, handler, schedulable };
}

/** `fieldErrors` as the guest gets it: JSON text (Alga sends an object). */
function fieldErrorsOf(body: Json): string | undefined {
  const v = field(body, 'fieldErrors', 'field_errors');
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function createAlgaApiScheduler(options: AlgaApiOptions): SchedulerBackend {
  const api = createAlgaInternalApi(options);

  type Call = { ok: true; body: Json } | { ok: false; error: SchedulerError; message: string; body: Json | undefined };

  async function call(scope: SchedulerScope, operation: string, payload: Json): Promise<Call> {
    const answer = await api.post('scheduler', scope.installId, { ...payload, operation }, scope.signal);
    if (answer.kind === 'unreachable') return { ok: false, error: 'internal', message: `Alga scheduler API call failed: ${answer.message}`, body: undefined };
    const { status, text } = answer;
    if (text === undefined) return { ok: false, error: 'internal', message: `Alga scheduler API answer is larger than ${api.maxResponseBytes} bytes`, body: undefined };
    const json = jsonOf(text);
    if (status < 200 || status > 299) {
      return { ok: false, error: statusError(status), message: `Alga scheduler API answered HTTP ${status} to ${operation}${upstreamMessage(text)}`, body: isObject(json) ? json : undefined };
    }
    // an empty 2xx body reads as an empty object, as in Alga's runner (null → no fields)
    if (text.trim() === '') return { ok: true, body: {} };
    if (!isObject(json)) return { ok: false, error: 'internal', message: `Alga scheduler API answer to ${operation} is not a JSON object`, body: undefined };
    return { ok: true, body: json };
  }

  function failure<T>(scope: SchedulerScope, c: Extract<Call, { ok: false }>): SchedulerOutcome<T> {
    scope.log(c.error === 'internal' ? 'error' : 'warn', `scheduler: ${c.message}`);
    return schedulerFailed(c.error, c.message);
  }

  /** A failed create/update/delete: Alga's words when its body has them, else the error case. */
  function failedRecord(scope: SchedulerScope, c: Extract<Call, { ok: false }>): { success: false; error: string; fieldErrors?: string } {
    scope.log(c.error === 'internal' ? 'error' : 'warn', `scheduler: ${c.message}`);
    const error = optionalString(c.body?.['error']) ?? c.error;
    const fieldErrors = c.body ? fieldErrorsOf(c.body) : undefined;
    return { success: false, error, ...(fieldErrors !== undefined ? { fieldErrors } : {}) };
  }

  function rows<T>(scope: SchedulerScope, list: unknown, parse: (raw: unknown) => T | undefined, what: string): T[] {
    if (!Array.isArray(list)) return [];
    return list.flatMap((raw) => {
      const parsed = parse(raw);
      if (parsed === undefined) scope.log('warn', `scheduler: skipped a malformed ${what} in Alga's answer`);
      return parsed === undefined ? [] : [parsed];
    });
  }

  return {
    async listSchedules(scope) {
      const c = await call(scope, 'list', {});
      return c.ok ? scheduled(rows(scope, c.body['schedules'], parseScheduleInfo, 'schedule')) : failure(scope, c);
    },
    async getSchedule(scope, scheduleId) {
      const c = await call(scope, 'get', { scheduleId });
      return c.ok ? scheduled(parseScheduleInfo(c.body['schedule'])) : failure(scope, c);
    },
    async createSchedule(scope, input) {
      const c = await call(scope, 'create', {
        endpoint: input.endpoint,
        cron: input.cron,
        ...(input.timezone !== undefined ? { timezone: input.timezone } : {}),
        ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.payload !== undefined ? { payload: input.payload } : {}),
      });
      if (!c.ok) return failedRecord(scope, c);
      const scheduleId = optionalString(field(c.body, 'scheduleId', 'schedule_id'));
      const error = optionalString(c.body['error']);
      const fieldErrors = fieldErrorsOf(c.body);
      return { success: c.body['success'] === true, ...(scheduleId ? { scheduleId } : {}), ...(error ? { error } : {}), ...(fieldErrors ? { fieldErrors } : {}) };
    },
    async updateSchedule(scope, scheduleId, input) {
      const c = await call(scope, 'update', {
        scheduleId,
        ...(input.endpoint !== undefined ? { endpoint: input.endpoint } : {}),
        ...(input.cron !== undefined ? { cron: input.cron } : {}),
        ...(input.timezone !== undefined ? { timezone: input.timezone } : {}),
        ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.hasPayload ? { payload: input.payload ?? null } : {}),
      });
      if (!c.ok) return failedRecord(scope, c);
      const error = optionalString(c.body['error']);
      const fieldErrors = fieldErrorsOf(c.body);
      return { success: c.body['success'] === true, ...(error ? { error } : {}), ...(fieldErrors ? { fieldErrors } : {}) };
    },
    async deleteSchedule(scope, scheduleId) {
      const c = await call(scope, 'delete', { scheduleId });
      if (!c.ok) {
        const { fieldErrors: _ignored, ...failed } = failedRecord(scope, c);
        return failed;
      }
      const error = optionalString(c.body['error']);
      return { success: c.body['success'] === true, ...(error ? { error } : {}) };
    },
    async getEndpoints(scope) {
      const c = await call(scope, 'getEndpoints', {});
      return c.ok ? scheduled(rows(scope, c.body['endpoints'], parseEndpointInfo, 'endpoint')) : failure(scope, c);
    },
  };
}
