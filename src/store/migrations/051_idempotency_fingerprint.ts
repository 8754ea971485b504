/**
 * Idempotency records remember what request claimed their key (a hash of it), so the same key
 * sent with a different request is refused instead of answered with the first one's response.
 * Records written before this migration have none and are replayed as before until they expire.
 *
 * Numbered after 050: a database that already applied 050 must find this one after it.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('idempotency').addColumn('fingerprint', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('idempotency').dropColumn('fingerprint').execute();
}
