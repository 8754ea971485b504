/**
 * Alga's route-level limit on schedule mutations (create, update, delete: so many a minute per
 * install) kept in the store, so every replica counts against the same window: one row per install,
 * the start of its current window and the mutations counted in it (store/schedule-mutation-limit.ts).
 * A row goes with its install.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('schedule_mutation_windows')
    .addColumn('install_id', 'text', (c) => c.primaryKey().references('installs.id').onDelete('cascade'))
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('schedule_mutation_windows').execute();
}
