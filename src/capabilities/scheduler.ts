/**
 * `alga:extension/scheduler` (cap:scheduler.manage; Alga's dialect only, wit/alga/world.wit): an
 * extension manages its own install's schedules. The backend is the store's (store/schedules.ts)
 * or Alga's internal API (scheduler-api.ts), chosen like the clients/services backend.
 *
 * What this module does before any backend, as Alga's runner does:
 *  - without the grant: `denied` for list/get/get-endpoints; `{success: false, error: "Permission
 *    denied: cap:scheduler.manage not granted"}` for create/update/delete;
 *  - without an install id: `denied`, or `{success: false, error: "Install ID missing"}`;
 *  - a payload that is not JSON: `{success: false, error: "Payload must be valid JSON object or array",
 *    fieldErrors: {"payload": ...}}`. The WIT's "empty string clears" is honoured on update (Alga's
 *    runner would refuse the empty string as not JSON).
 * A backend failure (an exception) answers `internal`, or `success: false` with the reason.
 */
import type { ExecutionContext } from '../contract/index.js';
import type { SchedulerBackend, SchedulerScope } from '../store/scheduler-model.js';
import { defineCapability, err, ok, value, type Capability, type Err, type ExecutionServices, type Ok } from './capability.js';
import { serve } from './dialects.js';
import { ExecutionScope } from './tenant-data-calls.js';

export const SCHEDULER_MANAGE = 'cap:scheduler.manage';

const DENIED_MESSAGE = `Permission denied: ${SCHEDULER_MANAGE} not granted`;
const PAYLOAD_MESSAGE = 'Payload must be valid JSON object or array';
const PAYLOAD_INVALID = { success: false, error: PAYLOAD_MESSAGE, fieldErrors: JSON.stringify({ payload: PAYLOAD_MESSAGE }) } as const;
const NO_INSTALL = { success: false, error: 'Install ID missing' } as const;

function scopeOf(ctx: ExecutionContext, services: ExecutionServices): SchedulerScope | undefined {
  if (ctx.installId === null) return undefined;
  return new ExecutionScope(ctx, ctx.installId, services);
}

/** The guest's JSON text decoded; `invalid` when it is not JSON. */
function decodePayload(text: unknown): { kind: 'none' } | { kind: 'value'; value: unknown } | { kind: 'invalid' } {
  if (typeof text !== 'string') return { kind: 'none' };
  try {
    return { kind: 'value', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'invalid' };
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

const failureMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The outcome of a read as the guest's `result`, with the reason of a failure in the install's log. */
function answerOf<T>(outcome: { ok: true; value: T } | { ok: false; error: Err['code']; message: string }): Ok<T> | Err<'not-found' | 'validation-failed' | 'quota-exceeded' | 'denied' | 'internal'> {
  return outcome.ok ? ok(outcome.value) : err(outcome.error as 'not-found' | 'validation-failed' | 'quota-exceeded' | 'denied' | 'internal');
}

export function createSchedulerCapability(backend: SchedulerBackend): Capability<null, null> {
  async function read<T>(
    ctx: ExecutionContext,
    services: ExecutionServices,
    fn: string,
    run: (scope: SchedulerScope) => Promise<{ ok: true; value: T } | { ok: false; error: Err['code']; message: string }>,
  ) {
    const scope = scopeOf(ctx, services);
    if (!scope) return err('denied' as const);
    try {
      return answerOf(await run(scope));
    } catch (e) {
      services.log('error', `scheduler.${fn} failed: ${failureMessage(e)}`);
      return err('internal' as const);
    }
  }

  async function write<R extends { success: boolean; error?: string }>(ctx: ExecutionContext, services: ExecutionServices, fn: string, run: (scope: SchedulerScope) => Promise<R>) {
    const scope = scopeOf(ctx, services);
    if (!scope) return value<R | typeof NO_INSTALL | { success: false; error: string }>(NO_INSTALL);
    try {
      return value<R | typeof NO_INSTALL | { success: false; error: string }>(await run(scope));
    } catch (e) {
      services.log('error', `scheduler.${fn} failed: ${failureMessage(e)}`);
      return value<R | typeof NO_INSTALL | { success: false; error: string }>({ success: false, error: `Failed to ${fn.replace('-schedule', '')} schedule` });
    }
  }

  return defineCapability<null, null>({
    name: SCHEDULER_MANAGE,
    grantedByDefault: false,
    configure: () => null,
    prepare: () => null,
    interfaces: [
      serve('alga:extension/scheduler', {
        functions: {
          listSchedules: ({ ctx, services }) => read(ctx, services, 'list-schedules', (scope) => backend.listSchedules(scope)),
          getSchedule: ({ args, ctx, services }) => read(ctx, services, 'get-schedule', (scope) => backend.getSchedule(scope, str(args[0]) ?? '')),
          getEndpoints: ({ ctx, services }) => read(ctx, services, 'get-endpoints', (scope) => backend.getEndpoints(scope)),
          createSchedule: async ({ args, ctx, services }) => {
            const input = record(args[0]);
            const payload = decodePayload(input['payload']);
            if (payload.kind === 'invalid') return value(PAYLOAD_INVALID);
            return write(ctx, services, 'create-schedule', (scope) =>
              backend.createSchedule(scope, {
                endpoint: str(input['endpoint']) ?? '',
                cron: str(input['cron']) ?? '',
                timezone: str(input['timezone']),
                enabled: bool(input['enabled']),
                name: str(input['name']),
                ...(payload.kind === 'value' ? { payload: payload.value } : {}),
              }),
            );
          },
          updateSchedule: async ({ args, ctx, services }) => {
            const input = record(args[1]);
            const cleared = input['payload'] === '';
            const payload = cleared ? ({ kind: 'value', value: null } as const) : decodePayload(input['payload']);
            if (payload.kind === 'invalid') return value(PAYLOAD_INVALID);
            return write(ctx, services, 'update-schedule', (scope) =>
              backend.updateSchedule(scope, str(args[0]) ?? '', {
                endpoint: str(input['endpoint']),
                cron: str(input['cron']),
                timezone: str(input['timezone']),
                enabled: bool(input['enabled']),
                name: str(input['name']),
                hasPayload: payload.kind === 'value',
                ...(payload.kind === 'value' ? { payload: payload.value } : {}),
              }),
            );
          },
          deleteSchedule: ({ args, ctx, services }) => write(ctx, services, 'delete-schedule', (scope) => backend.deleteSchedule(scope, str(args[0]) ?? '')),
        },
        denied: {
          listSchedules: err('denied'),
          getSchedule: err('denied'),
          getEndpoints: err('denied'),
          createSchedule: value({ success: false, error: DENIED_MESSAGE }),
          updateSchedule: value({ success: false, error: DENIED_MESSAGE }),
          deleteSchedule: value({ success: false, error: DENIED_MESSAGE }),
        },
      }),
    ],
  });
}
