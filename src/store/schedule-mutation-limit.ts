/**
 * Alga's limit on an install's schedule mutations: its internal scheduler route
 * (ee/server/src/app/api/internal/ext-scheduler/install/[installId]/route.ts) allows 10 create,
 * update or delete calls per install in a fixed one-minute window — a window opens at the first call
 * after the previous one ended — and answers the rest `429 RATE_LIMITED` "Too many requests, please
 * try again later". Every call counts, whether or not the mutation then succeeds.
 *
 * Alga counts in one process's memory; here the window is a row of `schedule_mutation_windows`
 * (migration 063), so replicas sharing a store share the limit. One statement opens or advances the
 * window and answers the count, so concurrent mutations never both take the last slot.
 */
import { sql, type Kysely } from 'kysely';

export const SCHEDULE_MUTATION_WINDOW_MS = 60_000;
/** Alga's RATE_LIMIT_MAX_OPERATIONS */
export const DEFAULT_SCHEDULE_MUTATIONS_PER_MINUTE = 10;
/** Alga's route's words when the window is full */
export const SCHEDULE_RATE_LIMITED = 'Too many requests, please try again later';

export interface ScheduleMutationLimit {
  /** Counts one mutation of the install at `nowMs`; false when its window already holds the limit. */
  take(installId: string, nowMs: number): Promise<boolean>;
}

/** `perMinute` 0: no limit. */
export function createScheduleMutationLimit<DB>(database: Kysely<DB>, perMinute: number): ScheduleMutationLimit {
  const db = database as unknown as Kysely<unknown>;
  return {
    async take(installId, nowMs) {
      if (perMinute <= 0) return true;
      const { rows } = await sql<{ count: number | string }>`
        insert into schedule_mutation_windows (install_id, window_start, count) values (${installId}, ${nowMs}, 1)
        on conflict (install_id) do update set
          window_start = case when excluded.window_start - schedule_mutation_windows.window_start > ${sql.lit(SCHEDULE_MUTATION_WINDOW_MS)}
                              then excluded.window_start else schedule_mutation_windows.window_start end,
          count = case when excluded.window_start - schedule_mutation_windows.window_start > ${sql.lit(SCHEDULE_MUTATION_WINDOW_MS)}
                       then 1 else schedule_mutation_windows.count + 1 end
        returning count`.execute(db);
      return Number(rows[0]?.count ?? Infinity) <= perMinute;
    },
  };
}
