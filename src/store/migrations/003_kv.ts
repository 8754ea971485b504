/**
 * Key/value storage (`cap:storage.kv`). Usage counters live in their own rows so quota checks are
 * O(1) and so a writer can lock its install's usage row to serialize writes per install.
 */
import type { ColumnDefinitionBuilder, Kysely } from 'kysely';
import { dialectOf, dialectTypes } from '../dialect.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = dialectTypes(dialectOf(db));
  const bytewise = (c: ColumnDefinitionBuilder) => {
    const notNull = c.notNull();
    return t.bytewiseCollation ? notNull.modifyEnd(t.bytewiseCollation) : notNull;
  };

  await db.schema
    .createTable('kv_entries')
    .addColumn('install_id', 'text', (c) => c.notNull())
    .addColumn('namespace', 'text', bytewise)
    .addColumn('key', 'text', bytewise)
    .addColumn('value', t.bytes, (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('revision', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('kv_entries_pk', ['install_id', 'namespace', 'key'])
    .execute();

  await db.schema
    .createTable('kv_namespaces')
    .addColumn('install_id', 'text', (c) => c.notNull())
    .addColumn('namespace', 'text', bytewise)
    .addColumn('key_count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('kv_namespaces_pk', ['install_id', 'namespace'])
    .execute();

  await db.schema
    .createTable('kv_usage')
    .addColumn('install_id', 'text', (c) => c.primaryKey())
    .addColumn('total_bytes', 'bigint', (c) => c.notNull())
    .addColumn('namespace_count', 'integer', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('kv_usage').execute();
  await db.schema.dropTable('kv_namespaces').execute();
  await db.schema.dropTable('kv_entries').execute();
}
