/**
 * Idempotency records of the execute API (`x-idempotency-key`), scoped by (tenant, extension, key).
 *
 * `claim` is one INSERT ... ON CONFLICT DO UPDATE ... WHERE expired statement, so exactly one
 * caller wins a key even across runner processes sharing a PostgreSQL database; the others see
 * the winner's record as `in-flight` (wait and claim again) or `done` (replay its response).
 *
 * An in-flight claim is a lease held by one process (the store's `holder`, one id per process):
 * the holder renews it while its execution runs; if the holder dies, the lease runs out and the
 * next claim takes the key over. Only the current holder renews, completes or releases a claim,
 * so a holder that lost its lease (paused past it, partitioned) and whose key was taken over
 * cannot overwrite the new holder's record — its `complete` answers false. A holder whose lease
 * ran out but whose key nobody took over still completes it: nobody else ran the request.
 * Expiry compares the processes' clocks: replicas' clocks must agree to well within a lease.
 *
 * A claim may carry a fingerprint of the request (the caller's hash of what defines it): it is
 * stored with the claim, and a later claim of the same key with a different fingerprint gets
 * `mismatch` — whether the first request is done or still in flight — instead of its response.
 * A record without a fingerprint (written before fingerprints were kept) matches any request.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Database } from './database.js';

export interface IdempotencyScope {
  readonly tenant: string;
  readonly extension: string;
  readonly key: string;
}

export type ClaimResult =
  | { readonly kind: 'claimed' }
  | { readonly kind: 'done'; readonly response: unknown }
  | { readonly kind: 'in-flight' }
  /** the key was claimed by a different request (another fingerprint); `state` is that claim's */
  | { readonly kind: 'mismatch'; readonly state: 'done' | 'in-flight' };

export interface ClaimOptions {
  /** how long an unfinished claim holds the key unless renewed (default 10 s, never more than the TTL) */
  readonly leaseMs?: number;
  /** what the request is (an opaque string, compared for equality); stored with the claim */
  readonly fingerprint?: string;
}

export interface IdempotencyStore {
  /** who this store claims keys as: one id per process */
  readonly holder: string;
  /** `ttlMs`: how long a completed response is replayed (default 24 h). */
  claim(scope: IdempotencyScope, ttlMs?: number, options?: ClaimOptions): Promise<ClaimResult>;
  /** Extend this holder's in-flight claim to `leaseMs` from now; false if it is not this holder's any more (taken over, released, purged). */
  renew(scope: IdempotencyScope, leaseMs: number): Promise<boolean>;
  /** Store the response of this holder's claim; false if the claim is not this holder's any more. */
  complete(scope: IdempotencyScope, response: unknown): Promise<boolean>;
  /** Give up this holder's claim (the execution failed in a way that should not be replayed); false if it was not this holder's any more. */
  release(scope: IdempotencyScope): Promise<boolean>;
  /** Delete expired records; returns how many. */
  purgeExpired(): Promise<number>;
}

export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_IN_FLIGHT_LEASE_MS = 10_000;

/** A process's holder id: readable in the table (host and pid), unique across restarts. */
export function newHolderId(): string {
  return `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

export function createIdempotencyStore(db: Kysely<Database>, now: () => number, holder: string = newHolderId()): IdempotencyStore {
  // this holder's in-flight claim of a key: the only record renew and complete may touch
  const mine = (scope: IdempotencyScope) =>
    db
      .updateTable('idempotency')
      .where('tenant_id', '=', scope.tenant)
      .where('extension_id', '=', scope.extension)
      .where('key', '=', scope.key)
      .where('state', '=', 'in-flight')
      .where('holder', '=', holder);
  return {
    holder,
    async claim(scope, ttlMs = DEFAULT_IDEMPOTENCY_TTL_MS, options = {}) {
      const leaseMs = Math.min(options.leaseMs ?? DEFAULT_IN_FLIGHT_LEASE_MS, ttlMs);
      const fingerprint = options.fingerprint ?? null;
      // A record may vanish between the failed insert and the read (released, or purged):
      // then the key is free again and the next attempt claims it.
      for (;;) {
        const t = now();
        const claimed = await db
          .insertInto('idempotency')
          .values({
            tenant_id: scope.tenant,
            extension_id: scope.extension,
            key: scope.key,
            state: 'in-flight',
            response: null,
            ttl_ms: ttlMs,
            expires_at: t + leaseMs,
            fingerprint,
            holder,
          })
          .onConflict((oc) =>
            oc
              .columns(['tenant_id', 'extension_id', 'key'])
              .doUpdateSet({ state: 'in-flight', response: null, ttl_ms: ttlMs, expires_at: t + leaseMs, fingerprint, holder })
              .where('idempotency.expires_at', '<=', t),
          )
          .returning('state')
          .executeTakeFirst();
        if (claimed) return { kind: 'claimed' };

        const row = await db
          .selectFrom('idempotency')
          .select(['state', 'response', 'expires_at', 'fingerprint'])
          .where('tenant_id', '=', scope.tenant)
          .where('extension_id', '=', scope.extension)
          .where('key', '=', scope.key)
          .executeTakeFirst();
        if (!row || Number(row.expires_at) <= t) continue;
        if (fingerprint !== null && row.fingerprint !== null && row.fingerprint !== fingerprint) {
          return { kind: 'mismatch', state: row.state === 'done' ? 'done' : 'in-flight' };
        }
        if (row.state === 'done') return { kind: 'done', response: JSON.parse(row.response ?? 'null') as unknown };
        return { kind: 'in-flight' };
      }
    },

    async renew(scope, leaseMs) {
      const result = await mine(scope)
        .set({ expires_at: now() + leaseMs })
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async complete(scope, response) {
      const t = now();
      const result = await mine(scope)
        .set((eb) => ({ state: 'done', response: JSON.stringify(response ?? null), expires_at: eb('ttl_ms', '+', t) }))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async release(scope) {
      const result = await db
        .deleteFrom('idempotency')
        .where('tenant_id', '=', scope.tenant)
        .where('extension_id', '=', scope.extension)
        .where('key', '=', scope.key)
        .where('state', '=', 'in-flight')
        .where('holder', '=', holder)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    async purgeExpired() {
      const result = await db.deleteFrom('idempotency').where('expires_at', '<=', now()).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
