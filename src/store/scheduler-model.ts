/**
 * An install's schedules (cap:scheduler.manage, `alga:extension/scheduler` of wit/alga/world.wit) as
 * every backend of them sees them, and Alga's rules for their input, applied by the store backend
 * exactly as Alga's host API applies them (Nine-Minds/alga-psa: the internal route
 * ee/server/src/app/api/internal/ext-scheduler/install/[installId]/route.ts, its schedulerHostApi.ts
 * and schedulerValidation.ts):
 *
 *  - cron: 5 fields (m h dom mon dow) of digits and `* / , -`, at most 128 characters; not both
 *    day-of-month and day-of-week; with hour, dom, mon and dow all `*`, the minute may not be `*`,
 *    `* /1` … `* /4` (the minimum interval: 5 minutes);
 *  - timezone: an IANA zone Intl knows, at most 64 characters, default UTC;
 *  - payload: a JSON object or array (null clears), at most 100 000 characters as JSON;
 *  - name: trimmed, at most 128 characters, blank = none, unique per install;
 *  - endpoint: `[METHOD ]path`, 1..256 characters, naming a GET or POST endpoint of the installed
 *    version without path parameters;
 *  - at most 50 schedules per install; schedule ids are UUIDs.
 *
 * Values are in jco's representation (camelCase records, `option<T>` as `T | undefined`), so the
 * capability hands them to the guest unchanged.
 */
import type { ExecutionUser } from '../contract/index.js';
import type { CreateScheduleResult, DeleteScheduleResult, EndpointInfo, ScheduleInfo, SchedulerError, UpdateScheduleResult } from '../generated/wit/alga.js';

export type { CreateScheduleResult, DeleteScheduleResult, EndpointInfo, ScheduleInfo, SchedulerError, UpdateScheduleResult } from '../generated/wit/alga.js';

/** Alga's quota: schedules per install. */
export const MAX_SCHEDULES_PER_INSTALL = 50;
/** Alga's minimum interval between runs of one schedule, in minutes (the cron check below). */
export const MIN_SCHEDULE_INTERVAL_MINUTES = 5;
export const MAX_PAYLOAD_JSON_CHARS = 100_000;

export type SchedulerOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: SchedulerError; readonly message: string };

export const scheduled = <T>(value: T): SchedulerOutcome<T> => ({ ok: true, value });
export const schedulerFailed = (error: SchedulerError, message: string): { readonly ok: false; readonly error: SchedulerError; readonly message: string } => ({ ok: false, error, message });

/** Who is asking: the execution's tenant, install and installed version (never the guest's choice). */
export interface SchedulerScope {
  readonly tenantId: string;
  readonly installId: string;
  readonly versionId: string | null;
  readonly user: ExecutionUser | null;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
  readonly signal?: AbortSignal;
}

/** `create-schedule-input` with its payload already decoded from the guest's JSON text (undefined: none given). */
export interface ScheduleCreate {
  readonly endpoint: string;
  readonly cron: string;
  readonly timezone?: string | undefined;
  readonly enabled?: boolean | undefined;
  readonly name?: string | undefined;
  readonly payload?: unknown;
}

/** `update-schedule-input`, payload decoded: absent = unchanged, null = cleared. */
export interface ScheduleUpdate {
  readonly endpoint?: string | undefined;
  readonly cron?: string | undefined;
  readonly timezone?: string | undefined;
  readonly enabled?: boolean | undefined;
  readonly name?: string | undefined;
  readonly payload?: unknown;
  /** whether `payload` was given (a given payload may be null: clear it) */
  readonly hasPayload: boolean;
}

export interface SchedulerBackend {
  listSchedules(scope: SchedulerScope): Promise<SchedulerOutcome<ScheduleInfo[]>>;
  /** `ok(undefined)` when the install has no such schedule. */
  getSchedule(scope: SchedulerScope, scheduleId: string): Promise<SchedulerOutcome<ScheduleInfo | undefined>>;
  createSchedule(scope: SchedulerScope, input: ScheduleCreate): Promise<CreateScheduleResult>;
  updateSchedule(scope: SchedulerScope, scheduleId: string, input: ScheduleUpdate): Promise<UpdateScheduleResult>;
  deleteSchedule(scope: SchedulerScope, scheduleId: string): Promise<DeleteScheduleResult>;
  getEndpoints(scope: SchedulerScope): Promise<SchedulerOutcome<EndpointInfo[]>>;
}

// ---- Alga's input rules -------------------------------------------------------------------------

/** A field's problem, as Alga reports it: `{error: message, fieldErrors: {field: message}}`. */
export class ScheduleInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ScheduleInputError';
  }
}

const fail = (field: string, message: string): never => {
  throw new ScheduleInputError(field, message);
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isScheduleId(id: string): boolean {
  return UUID.test(id.trim());
}

export function validateCron(cron: string): string {
  const value = cron.trim();
  if (value.length > 128) fail('cron', 'Cron expression too long');
  const parts = value.split(/\s+/).filter(Boolean);
  if (parts.length !== 5) fail('cron', 'Invalid cron expression (expected 5 fields: m h dom mon dow)');
  for (const part of parts) if (!/^[0-9*/,-]+$/.test(part)) fail('cron', 'Invalid cron expression (unsupported characters)');
  const [min, hour, dom, mon, dow] = parts as [string, string, string, string, string];
  if (dom !== '*' && dow !== '*') fail('cron', 'Cron cannot set both day-of-month and day-of-week');
  if (hour === '*' && dom === '*' && mon === '*' && dow === '*' && ['*', '*/1', '*/2', '*/3', '*/4'].includes(min)) {
    fail('cron', `Cron too frequent (minimum interval is ${MIN_SCHEDULE_INTERVAL_MINUTES} minutes)`);
  }
  return value;
}

export function validateTimezone(tz: string | undefined): string {
  const value = (tz ?? 'UTC').trim();
  if (!value) return 'UTC';
  if (value.length > 64) fail('timezone', 'Timezone too long');
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value }).format(new Date());
  } catch {
    fail('timezone', 'Invalid timezone');
  }
  return value;
}

/** The payload as stored: null for none; an object or array up to the size limit. */
export function validatePayload(payload: unknown): unknown {
  if (payload === null || payload === undefined) return null;
  if (typeof payload !== 'object') fail('payload', 'Payload must be a JSON object or array');
  if (JSON.stringify(payload).length > MAX_PAYLOAD_JSON_CHARS) fail('payload', 'Payload too large');
  return payload;
}

export function validateScheduleName(name: string | undefined): string | null {
  if (name === undefined) return null;
  const value = name.trim();
  if (!value) return null;
  if (value.length > 128) fail('name', 'Name too long');
  return value;
}

/** The route's bounds on the raw strings (Alga's zod schema: a 400 before the host API runs). */
export function checkRawLengths(input: { endpoint?: string | undefined; cron?: string | undefined; timezone?: string | undefined; name?: string | undefined }): void {
  if (input.endpoint !== undefined && (input.endpoint.length < 1 || input.endpoint.length > 256)) fail('endpoint', 'Endpoint must be 1 to 256 characters');
  if (input.cron !== undefined && (input.cron.length < 1 || input.cron.length > 128)) fail('cron', 'Cron expression must be 1 to 128 characters');
  if (input.timezone !== undefined && input.timezone.length > 64) fail('timezone', 'Timezone too long');
  if (input.name !== undefined && input.name.length > 128) fail('name', 'Name too long');
}

// ---- endpoints ---------------------------------------------------------------------------------

/** One endpoint of a manifest's `api.endpoints`, as the scheduler needs it. */
export interface ManifestEndpoint {
  readonly method: string;
  readonly path: string;
  readonly handler: string;
  /** the manifest's own `schedulable` flag, when it gives one */
  readonly schedulable?: boolean | undefined;
}

export function normalizeEndpointPath(path: string): string {
  const raw = path.trim();
  if (!raw) return '';
  return (raw.startsWith('/') ? raw : `/${raw}`).replace(/\/{2,}/g, '/');
}

/** `"POST /api/x"` or `"/api/x"` (then GET or POST). */
export function parseEndpointSelector(selector: string): { method?: string; path: string } {
  const match = /^([A-Za-z]+)\s+(.+)$/.exec(selector.trim());
  if (!match) return { path: normalizeEndpointPath(selector) };
  return { method: match[1]!.toUpperCase(), path: normalizeEndpointPath(match[2]!) };
}

const hasPathParams = (path: string) => path.includes(':') || path.includes('{') || path.includes('}');

/**
 * Alga's rule: GET or POST, no path parameters. A manifest that marks an endpoint
 * `schedulable: false` is taken at its word (Alga's schema drops the flag; this runner reads it).
 */
export function isSchedulable(e: ManifestEndpoint): boolean {
  const method = e.method.toUpperCase();
  return (method === 'GET' || method === 'POST') && !hasPathParams(e.path) && e.schedulable !== false;
}

/** The schedulable endpoint a selector names among a version's endpoints, if any. */
export function resolveEndpoint(endpoints: readonly ManifestEndpoint[], selector: string): { method: string; path: string } | undefined {
  const wanted = parseEndpointSelector(selector);
  const found = endpoints.find((e) => normalizeEndpointPath(e.path) === wanted.path && (wanted.method ? e.method.toUpperCase() === wanted.method : ['GET', 'POST'].includes(e.method.toUpperCase())));
  if (!found || !isSchedulable(found)) return undefined;
  return { method: found.method.toUpperCase(), path: normalizeEndpointPath(found.path) };
}

export const ENDPOINT_NOT_SCHEDULABLE = 'Endpoint not found or not schedulable';
