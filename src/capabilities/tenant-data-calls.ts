/**
 * The glue the clients and services capabilities share: the backend call's scope comes from the
 * execution (its tenant, install, user, log and end signal — never from the guest), and a backend
 * result becomes the guest's `result<T, client-read-error | service-read-error>`, with the reason
 * for any failure written to the install's log so the extension author can see why. Over the
 * embedded store both capabilities also share one worker side (below).
 */
import type { ExecutionContext } from '../contract/index.js';
import type { TenantDataError, TenantDataResult, TenantDataScope } from '../store/tenant-data-model.js';
import type { ReadOnlyStore } from '../store/read-only-store.js';
import { err, ok, type Err, type ExecutionServices, type Ok, type WorkerSide } from './capability.js';
import type { CallLogger, CreateWorkerFunctions, WorkerFunction, WorkerFunctions } from '../contract/index.js';

export function tenantDataScope(ctx: ExecutionContext, services: ExecutionServices): TenantDataScope {
  return new ExecutionScope(ctx, ctx.installId, services);
}

/**
 * What a backend call knows of its execution: tenant, install, installed version, user, the log
 * and the end signal — never the guest's choice. `Install` is `string` where the caller has
 * already refused an execution without an install (scheduler, invoicing). A class, not an object
 * literal with a getter: see ExecutionSession in engine/engine.ts.
 */
export class ExecutionScope<Install extends string | null = string | null> {
  readonly tenantId: string;
  readonly versionId: string | null;
  readonly user: ExecutionContext['user'];

  constructor(
    ctx: ExecutionContext,
    readonly installId: Install,
    private readonly services: ExecutionServices,
  ) {
    this.tenantId = ctx.tenantId;
    this.versionId = ctx.versionId;
    this.user = ctx.user;
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.services.log(level, message);
  }

  /**
   * Read only by a backend that can abort (Alga's API): asking makes the execution's end signal,
   * and ending an execution with one costs a DOMException (engine.ts ExecutionSession).
   */
  get signal(): AbortSignal {
    return this.services.signal;
  }
}

/**
 * `fn` is the WIT name (`clients.list-clients`), used in the log line; `logger` the main thread's
 * ExecutionServices or a worker function's call.
 */
export function hostResultOf<T>(result: TenantDataResult<T>, logger: CallLogger, fn: string): Ok<T> | Err<TenantDataError> {
  if (result.ok) return ok(result.value);
  logger.log(result.error === 'internal' ? 'error' : 'warn', `${fn} failed (${result.error}): ${result.message}`);
  return err(result.error);
}

/** Which capability's reads a worker side serves. */
interface TenantDataWorkerInit {
  readonly reads: 'clients' | 'services';
}

/** The worker side of the clients or the services capability, when workers may read the store (else none). */
export function tenantDataWorkerSide(reads: TenantDataWorkerInit['reads'], inWorker: boolean): { worker?: WorkerSide } {
  return inWorker ? { worker: { module: import.meta.url, init: { reads } satisfies TenantDataWorkerInit } } : {};
}

/** Worker side (worker-side.ts): the reads through the worker's reads of the SQLite store, for the execution's tenant. */
export const createWorkerFunctions: CreateWorkerFunctions<ReadOnlyStore> = (init, store): WorkerFunctions => {
  const { reads } = init as TenantDataWorkerInit;
  const data = store().tenantData;
  const fn =
    <T>(witName: string, read: (tenantId: string, arg: never) => TenantDataResult<T>): WorkerFunction<null> =>
    (call) =>
      hostResultOf(read(call.ctx.tenantId, call.args[0] as never), call, witName);
  return reads === 'clients'
    ? {
        'alga:extension/clients#listClients': fn('clients.list-clients', data.listClients),
        'alga:extension/clients#getClient': fn('clients.get-client', data.getClient),
      }
    : {
        'alga:extension/services#listServices': fn('services.list-services', data.listServices),
        'alga:extension/services#getService': fn('services.get-service', data.getService),
      };
};
