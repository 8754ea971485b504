/**
 * The glue the clients and services capabilities share: the backend call's scope comes from the
 * execution (its tenant, install, user, log and end signal — never from the guest), and a backend
 * result becomes the guest's `result<T, client-read-error | service-read-error>`, with the reason
 * for any failure written to the install's log so the extension author can see why.
 */
import type { ExecutionContext } from '../engine/execution-context.js';
import type { TenantDataResult, TenantDataScope } from '../store/tenant-data-model.js';
import { err, ok, type ExecutionServices, type HostResult } from './capability.js';
import type { CallLogger } from './worker-side.js';

export function tenantDataScope(ctx: ExecutionContext, services: ExecutionServices): TenantDataScope {
  return new ExecutionScope(ctx, services);
}

/** A class, not an object literal with a getter: see SessionServices in engine/engine.ts. */
class ExecutionScope implements TenantDataScope {
  readonly tenantId: string;
  readonly installId: string | null;
  readonly user: ExecutionContext['user'];

  constructor(
    ctx: ExecutionContext,
    private readonly services: ExecutionServices,
  ) {
    this.tenantId = ctx.tenantId;
    this.installId = ctx.installId;
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
export function hostResultOf<T>(result: TenantDataResult<T>, logger: CallLogger, fn: string): HostResult {
  if (result.ok) return ok(result.value);
  logger.log(result.error === 'internal' ? 'error' : 'warn', `${fn} failed (${result.error}): ${result.message}`);
  return err(result.error);
}
