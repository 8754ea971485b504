/**
 * An in-flight idempotency claim names the process that holds it (a per-process id), so only that
 * process renews, completes or releases it: a process that lost its lease (paused, partitioned)
 * cannot overwrite the record of the process that took the key over. Records written before this
 * migration have none; they expire with their lease as before.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('idempotency').addColumn('holder', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('idempotency').dropColumn('holder').execute();
}
