/**
 * `alga:extension/user` and `alga:extension/user-v2` (cap:user.read, granted by default as in
 * Alga): the user of the current request, as the caller supplied it in the execute envelope
 * (src/service/envelope.ts). A run without a user (a scheduled run) gets `not-available`.
 *
 * The tenant id is the execution's, never a value from the envelope's user block. v2 adds the
 * user's client id and the envelope's `additional_fields`, as key/value pairs sorted by key
 * (code-unit order, so the same map always gives the same list).
 */
import type { ExecutionContext, ExecutionUser } from '../contract/index.js';
import { defineCapability, err, ok, type Capability, type Err, type Ok } from './capability.js';
import { serve } from './dialects.js';
import type { UserData, UserDataV2, UserError } from '../generated/wit/seed.js';

export const USER_READ = 'cap:user.read';

/** WIT `user-data` and `user-data-v2`, as jco expects them (generated from wit/). */
export type { UserData, UserDataV2 } from '../generated/wit/seed.js';

export function userData(tenantId: string, user: ExecutionUser): UserData {
  return {
    tenantId,
    clientName: user.clientName,
    userId: user.userId,
    userEmail: user.userEmail,
    userName: user.userName,
    userType: user.userType,
  };
}

export function userDataV2(tenantId: string, user: ExecutionUser): UserDataV2 {
  const additionalFields = Object.entries(user.additionalFields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Object.assign, not a leading spread: see PoolJob.message in worker-pool.ts (answers computed per
  // execution on the main thread)
  return Object.assign(userData(tenantId, user), { clientId: user.clientId ?? undefined, additionalFields });
}

function currentUser<T extends UserData>(ctx: ExecutionContext, shape: (tenantId: string, user: ExecutionUser) => T): Ok<T> | Err<UserError> {
  return ctx.user ? ok(shape(ctx.tenantId, ctx.user)) : err('not-available');
}

export const userCapability: Capability<null, null> = defineCapability<null, null>({
  name: USER_READ,
  grantedByDefault: true,
  configure: () => null,
  prepare: () => null,
  interfaces: [
    serve('alga:extension/user', {
      functions: { getUser: ({ ctx }) => currentUser(ctx, userData) },
      denied: { getUser: err('not-allowed') },
      delivery: { getUser: 'per-execution' },
    }),
    serve('alga:extension/user-v2', {
      functions: { getUser: ({ ctx }) => currentUser(ctx, userDataV2) },
      denied: { getUser: err('not-allowed') },
      delivery: { getUser: 'per-execution' },
    }),
  ],
});
