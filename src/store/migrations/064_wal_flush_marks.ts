/**
 * PostgreSQL storage writes commit without waiting for the WAL flush and are made durable by a
 * flush after them (store/kv-postgres.ts): a transaction of the runner's own that writes a row and
 * commits synchronously, which flushes the WAL up to its commit record — so every commit before it.
 * A transaction must write something for its commit to wait for the flush; each process upserts
 * its own row here (no two replicas wait for each other's lock). Unused on SQLite.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('wal_flush_marks')
    .addColumn('holder', 'text', (c) => c.primaryKey())
    .addColumn('flushed_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('wal_flush_marks').execute();
}
