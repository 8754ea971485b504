/** Per-install extension log records, bounded per install (oldest dropped, see ../logs.ts). */
import type { Kysely } from 'kysely';
import { dialectOf } from '../dialect.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = dialectOf(db) === 'postgres';
  await db.schema
    .createTable('log_records')
    .addColumn('id', postgres ? 'bigint' : 'integer', (c) => (postgres ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement()))
    .addColumn('install_id', 'text', (c) => c.notNull())
    .addColumn('ts', 'bigint', (c) => c.notNull())
    .addColumn('level', 'text', (c) => c.notNull())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('extension_id', 'text', (c) => c.notNull())
    .addColumn('version_id', 'text')
    .addColumn('request_id', 'text')
    .addColumn('truncated', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('log_records_install_id').on('log_records').columns(['install_id', 'id']).execute();
  await db.schema.createIndex('log_records_install_request').on('log_records').columns(['install_id', 'request_id', 'id']).execute();

  await db.schema
    .createTable('log_usage')
    .addColumn('install_id', 'text', (c) => c.primaryKey())
    .addColumn('record_count', 'integer', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('log_usage').execute();
  await db.schema.dropTable('log_records').execute();
}
