/**
 * The store backend of the scheduler interface: an install's schedules in `extension_schedules`
 * (migration 060), with Alga's rules (scheduler-model.ts) and Alga's answers — the messages and
 * field errors of Alga's schedulerHostApi.ts, so a guest sees what it would see on Alga.
 *
 * The endpoints a schedule may name are the installed version's manifest `api.endpoints`.
 * Every query names the install (and so its tenant): a schedule id of another install is "not found".
 * Create, update and delete count against Alga's route limit per install and minute
 * (schedule-mutation-limit.ts) before anything else, as on Alga, where the route counts first.
 */
import { createHash, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { dialectOf } from './dialect.js';
import { nextCronTime } from './cron.js';
import type { RegistryStore } from './registry.js';
import { DEFAULT_SCHEDULE_MUTATIONS_PER_MINUTE, SCHEDULE_RATE_LIMITED, createScheduleMutationLimit } from './schedule-mutation-limit.js';
import {
  ENDPOINT_NOT_SCHEDULABLE,
  MAX_SCHEDULES_PER_INSTALL,
  ScheduleInputError,
  checkRawLengths,
  isSchedulable,
  isScheduleId,
  normalizeEndpointPath,
  resolveEndpoint,
  scheduled,
  schedulerFailed,
  validateCron,
  validatePayload,
  validateScheduleName,
  validateTimezone,
  type CreateScheduleResult,
  type EndpointInfo,
  type ManifestEndpoint,
  type ScheduleInfo,
  type SchedulerBackend,
  type SchedulerScope,
  type UpdateScheduleResult,
} from './scheduler-model.js';

interface ExtensionSchedulesTable {
  id: string;
  tenant: string;
  install_id: string;
  endpoint_method: string;
  endpoint_path: string;
  name: string | null;
  cron: string;
  timezone: string;
  enabled: number;
  payload_json: string | null;
  next_run_at: number | string | null;
  last_run_at: number | string | null;
  last_run_status: string | null;
  last_error: string | null;
  created_at: number | string;
  updated_at: number | string;
}

interface SchedulesTables {
  extension_schedules: ExtensionSchedulesTable;
}

/** A schedule as the admin API shows it: the guest's view plus when it is next due. */
export interface StoredSchedule extends ScheduleInfo {
  readonly tenantId: string;
  readonly installId: string;
  readonly nextRunAt: string | null;
}

/** A due run this process claimed: no other process runs this schedule for this due time. */
export interface ClaimedRun {
  readonly scheduleId: string;
  readonly tenantId: string;
  readonly installId: string;
  readonly method: string;
  readonly path: string;
  /** JSON text, or null */
  readonly payload: string | null;
  /** the due time claimed (epoch ms) */
  readonly dueAt: number;
}

export interface StoreScheduler extends SchedulerBackend {
  /** Every schedule of an install, oldest first (the admin API). */
  listInstallSchedules(installId: string): Promise<StoredSchedule[]>;
  /**
   * Claims up to `limit` enabled schedules due at `nowMs`: each one's `next_run_at` moves to its
   * next due time after `nowMs` by an update conditional on the due time read, so of several
   * processes exactly one claims a given due time (a missed stretch is run once, not once per
   * missed time).
   */
  claimDue(nowMs: number, limit: number): Promise<ClaimedRun[]>;
  /** Records how a claimed run ended (Alga's last_run_* columns). */
  recordRun(scheduleId: string, run: { at: number; status: 'success' | 'error'; error: string | null }): Promise<void>;
  /** Alga's policy for a schedule whose endpoint is gone: disabled, with the reason as its last run. */
  disableBroken(scheduleId: string, at: number, error: string): Promise<void>;
}

const NAME_TAKEN = 'Schedule name already in use for this extension';

const iso = (ms: number | string | null): string | undefined => (ms === null ? undefined : new Date(Number(ms)).toISOString());

function infoOf(r: ExtensionSchedulesTable): ScheduleInfo {
  return {
    id: r.id,
    endpointPath: r.endpoint_path,
    endpointMethod: r.endpoint_method,
    name: r.name ?? undefined,
    cron: r.cron,
    timezone: r.timezone,
    enabled: Number(r.enabled) === 1,
    payload: r.payload_json ?? undefined,
    lastRunAt: iso(r.last_run_at),
    lastRunStatus: r.last_run_status ?? undefined,
    lastError: r.last_error ?? undefined,
    createdAt: iso(r.created_at),
  };
}

/** Alga gives each (version, method, path) endpoint a UUID; here it is derived from them, so it is stable. */
export function endpointId(versionId: string, method: string, path: string): string {
  const h = createHash('sha256').update(`${versionId}\u0000${method}\u0000${path}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The `api.endpoints` of a stored manifest (already validated at upload; read defensively). */
export function manifestEndpoints(manifest: Readonly<Record<string, unknown>>): ManifestEndpoint[] {
  const api = manifest['api'];
  const endpoints = api && typeof api === 'object' ? (api as Record<string, unknown>)['endpoints'] : undefined;
  if (!Array.isArray(endpoints)) return [];
  return endpoints.flatMap((e: unknown) => {
    if (!e || typeof e !== 'object') return [];
    const { method, path, handler, schedulable } = e as Record<string, unknown>;
    if (typeof method !== 'string' || typeof path !== 'string') return [];
    return [{ method: method.toUpperCase(), path, handler: typeof handler === 'string' ? handler : '', schedulable: typeof schedulable === 'boolean' ? schedulable : undefined }];
  });
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || (typeof e?.message === 'string' && e.message.includes('UNIQUE constraint failed'));
}

/** A failed create or update as Alga answers it: the message, and the field it concerns. */
function inputFailure(error: ScheduleInputError): { success: false; error: string; fieldErrors: string } {
  return { success: false, error: error.message, fieldErrors: JSON.stringify({ [error.field]: error.message }) };
}

/** Over the mutation limit: Alga's route's 429, as the guest gets it through Alga's internal API (scheduler-api.ts). */
const rateLimited = (): { success: false; error: string } => ({ success: false, error: SCHEDULE_RATE_LIMITED });

const nameTaken = (): { success: false; error: string; fieldErrors: string } => ({ success: false, error: NAME_TAKEN, fieldErrors: JSON.stringify({ name: NAME_TAKEN }) });

/**
 * `nextDue(cron, timezone, after)`: when an enabled schedule is next due (epoch ms; null: never),
 * kept in `next_run_at` (cron.ts:nextCronTime; tests may pass their own clock).
 */
export type NextDue = (cron: string, timezone: string, afterMs: number) => number | null;

export interface StoreSchedulerOptions {
  readonly nextDue?: NextDue;
  readonly now?: () => number;
  /** Alga's route limit on create/update/delete per install and minute (RUNNER_SCHEDULE_MUTATIONS_PER_MINUTE; 0: none) */
  readonly mutationsPerMinute?: number;
}

export function createStoreScheduler<DB>(database: Kysely<DB>, registry: Pick<RegistryStore, 'getVersion'>, options: StoreSchedulerOptions = {}): StoreScheduler {
  const { nextDue = nextCronTime, now = Date.now, mutationsPerMinute = DEFAULT_SCHEDULE_MUTATIONS_PER_MINUTE } = options;
  const db = database as unknown as Kysely<SchedulesTables>;
  const mutationLimit = createScheduleMutationLimit(database, mutationsPerMinute);

  /** Counts a create/update/delete against the install's window; false: Alga's route would answer 429. */
  async function mutationAllowed(scope: SchedulerScope): Promise<boolean> {
    if (await mutationLimit.take(scope.installId, now())) return true;
    scope.log('warn', `scheduler: ${SCHEDULE_RATE_LIMITED} (at most ${mutationsPerMinute} schedule changes a minute per install)`);
    return false;
  }

  /** The next due time of a schedule being saved; a cron that cannot be read is the guest's error. */
  function dueAfter(cron: string, timezone: string, at: number): number | null {
    try {
      return nextDue(cron, timezone, at);
    } catch (e) {
      throw new ScheduleInputError('cron', `Invalid cron expression (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  async function endpointsOf(scope: SchedulerScope): Promise<{ versionId: string; endpoints: ManifestEndpoint[] } | undefined> {
    if (!scope.versionId) return undefined;
    const version = await registry.getVersion(scope.versionId);
    return version ? { versionId: version.id, endpoints: manifestEndpoints(version.manifest) } : undefined;
  }

  const byInstall = (installId: string) => db.selectFrom('extension_schedules').selectAll().where('install_id', '=', installId);

  return {
    async listSchedules(scope) {
      const rows = await byInstall(scope.installId).orderBy('created_at').orderBy('id').execute();
      return scheduled(rows.map(infoOf));
    },

    async getSchedule(scope, scheduleId) {
      // Alga's route refuses an id that is not a UUID (400: validation-failed)
      if (!isScheduleId(scheduleId)) return schedulerFailed('validation-failed', 'scheduleId must be a UUID');
      const row = await byInstall(scope.installId).where('id', '=', scheduleId.trim()).executeTakeFirst();
      return scheduled(row ? infoOf(row) : undefined);
    },

    async createSchedule(scope, input): Promise<CreateScheduleResult> {
      if (!(await mutationAllowed(scope))) return rateLimited();
      try {
        checkRawLengths(input);
        const cron = validateCron(input.cron);
        const timezone = validateTimezone(input.timezone);
        const enabled = input.enabled ?? true;
        const payload = validatePayload(input.payload);
        const name = validateScheduleName(input.name);
        const version = await endpointsOf(scope);
        const endpoint = version ? resolveEndpoint(version.endpoints, input.endpoint) : undefined;
        if (!endpoint) return { success: false, error: ENDPOINT_NOT_SCHEDULABLE, fieldErrors: JSON.stringify({ endpoint: ENDPOINT_NOT_SCHEDULABLE }) };

        const id = randomUUID();
        const at = now();
        const inserted = await db.transaction().execute(async (trx) => {
          // the quota is counted and the row inserted in one transaction (on PostgreSQL, one install's
          // creates are serialised by locking its rows' parent: the install)
          await lockInstall(trx, scope.installId);
          const count = await trx
            .selectFrom('extension_schedules')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('install_id', '=', scope.installId)
            .executeTakeFirstOrThrow();
          if (Number(count.n) >= MAX_SCHEDULES_PER_INSTALL) return false;
          await trx
            .insertInto('extension_schedules')
            .values({
              id,
              tenant: scope.tenantId,
              install_id: scope.installId,
              endpoint_method: endpoint.method,
              endpoint_path: endpoint.path,
              name,
              cron,
              timezone,
              enabled: enabled ? 1 : 0,
              payload_json: payload === null ? null : JSON.stringify(payload),
              next_run_at: enabled ? dueAfter(cron, timezone, at) : null,
              last_run_at: null,
              last_run_status: null,
              last_error: null,
              created_at: at,
              updated_at: at,
            })
            .execute();
          return true;
        });
        if (!inserted) return { success: false, error: `Too many schedules (max ${MAX_SCHEDULES_PER_INSTALL} per extension install)` };
        scope.log('info', `scheduler: created schedule ${id} (${endpoint.method} ${endpoint.path}, "${cron}" ${timezone})`);
        return { success: true, scheduleId: id };
      } catch (error) {
        if (error instanceof ScheduleInputError) return inputFailure(error);
        if (isUniqueViolation(error)) return nameTaken();
        throw error;
      }
    },

    async updateSchedule(scope, scheduleId, input): Promise<UpdateScheduleResult> {
      if (!(await mutationAllowed(scope))) return rateLimited();
      try {
        if (!isScheduleId(scheduleId)) throw new ScheduleInputError('scheduleId', 'Invalid scheduleId');
        checkRawLengths(input);
        const cron = input.cron ? validateCron(input.cron) : undefined;
        const timezone = input.timezone ? validateTimezone(input.timezone) : undefined;
        const payload = input.hasPayload ? (input.payload === null ? null : validatePayload(input.payload)) : undefined;
        const current = await byInstall(scope.installId).where('id', '=', scheduleId.trim()).executeTakeFirst();
        if (!current) return { success: false, error: 'Schedule not found' };

        let endpoint: { method: string; path: string } | undefined;
        if (input.endpoint) {
          const version = await endpointsOf(scope);
          endpoint = version ? resolveEndpoint(version.endpoints, input.endpoint) : undefined;
          if (!endpoint) return { success: false, error: ENDPOINT_NOT_SCHEDULABLE, fieldErrors: JSON.stringify({ endpoint: ENDPOINT_NOT_SCHEDULABLE }) };
        }
        const at = now();
        const nextCron = cron ?? current.cron;
        const nextTimezone = timezone ?? current.timezone;
        const nextEnabled = input.enabled ?? Number(current.enabled) === 1;
        const retimed = nextCron !== current.cron || nextTimezone !== current.timezone || nextEnabled !== (Number(current.enabled) === 1);
        await db
          .updateTable('extension_schedules')
          .set({
            updated_at: at,
            ...(endpoint ? { endpoint_method: endpoint.method, endpoint_path: endpoint.path } : {}),
            ...(cron ? { cron } : {}),
            ...(timezone ? { timezone } : {}),
            ...(input.name !== undefined ? { name: validateScheduleName(input.name) } : {}),
            ...(payload !== undefined ? { payload_json: payload === null ? null : JSON.stringify(payload) } : {}),
            ...(input.enabled !== undefined ? { enabled: input.enabled ? 1 : 0 } : {}),
            ...(retimed ? { next_run_at: nextEnabled ? dueAfter(nextCron, nextTimezone, at) : null } : {}),
          })
          .where('id', '=', current.id)
          .where('install_id', '=', scope.installId)
          .execute();
        scope.log('info', `scheduler: updated schedule ${current.id}`);
        return { success: true };
      } catch (error) {
        if (error instanceof ScheduleInputError) return inputFailure(error);
        if (isUniqueViolation(error)) return nameTaken();
        throw error;
      }
    },

    async deleteSchedule(scope, scheduleId) {
      if (!(await mutationAllowed(scope))) return rateLimited();
      if (!isScheduleId(scheduleId)) return { success: false, error: 'Invalid scheduleId' };
      const deleted = await db.deleteFrom('extension_schedules').where('id', '=', scheduleId.trim()).where('install_id', '=', scope.installId).executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) return { success: false, error: 'Schedule not found' };
      scope.log('info', `scheduler: deleted schedule ${scheduleId.trim()}`);
      return { success: true };
    },

    async getEndpoints(scope) {
      const version = await endpointsOf(scope);
      if (!version) return scheduled([]);
      const endpoints: EndpointInfo[] = version.endpoints
        .map((e) => ({ ...e, path: normalizeEndpointPath(e.path) }))
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
        .map((e) => ({ id: endpointId(version.versionId, e.method, e.path), method: e.method, path: e.path, handler: e.handler, schedulable: isSchedulable(e) }));
      return scheduled(endpoints);
    },

    async claimDue(nowMs, limit) {
      const due = await db.selectFrom('extension_schedules').selectAll().where('enabled', '=', 1).where('next_run_at', '<=', nowMs).orderBy('next_run_at').limit(limit).execute();
      const claimed: ClaimedRun[] = [];
      for (const row of due) {
        const seen = Number(row.next_run_at);
        let next: number | null;
        try {
          next = nextDue(row.cron, row.timezone, nowMs);
        } catch {
          next = null; // a cron saved before it could be read: run this once, then never again
        }
        // only the process whose update finds the due time it read has claimed it
        const won = await db.updateTable('extension_schedules').set({ next_run_at: next }).where('id', '=', row.id).where('enabled', '=', 1).where('next_run_at', '=', seen).executeTakeFirst();
        if (Number(won.numUpdatedRows) !== 1) continue;
        claimed.push({ scheduleId: row.id, tenantId: row.tenant, installId: row.install_id, method: row.endpoint_method, path: row.endpoint_path, payload: row.payload_json, dueAt: seen });
      }
      return claimed;
    },

    async recordRun(scheduleId, run) {
      await db.updateTable('extension_schedules').set({ last_run_at: run.at, last_run_status: run.status, last_error: run.error }).where('id', '=', scheduleId).execute();
    },

    async disableBroken(scheduleId, at, error) {
      await db
        .updateTable('extension_schedules')
        .set({ enabled: 0, next_run_at: null, updated_at: at, last_run_at: at, last_run_status: 'error', last_error: error })
        .where('id', '=', scheduleId)
        .execute();
    },

    async listInstallSchedules(installId) {
      const rows = await byInstall(installId).orderBy('created_at').orderBy('id').execute();
      return rows.map((r) => ({ ...infoOf(r), tenantId: r.tenant, installId: r.install_id, nextRunAt: iso(r.next_run_at) ?? null }));
    },
  };

  /** PostgreSQL: one install's quota checks run one at a time (SQLite already runs one write transaction at a time). */
  async function lockInstall(trx: Kysely<SchedulesTables>, installId: string): Promise<void> {
    if (dialectOf(trx as unknown as Kysely<unknown>) === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`extension_schedules:${installId}`}))`.execute(trx);
  }
}
