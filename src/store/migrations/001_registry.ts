/** Registry: extensions, their versions (content hash + manifest) and per-tenant installs. */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('extensions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('publisher', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('extensions_publisher_name_unique', ['publisher', 'name'])
    .execute();

  await db.schema
    .createTable('extension_versions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('extension_id', 'text', (c) => c.notNull().references('extensions.id').onDelete('cascade'))
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('manifest', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('extension_versions_extension_version_unique', ['extension_id', 'version'])
    .execute();
  await db.schema.createIndex('extension_versions_content_hash').on('extension_versions').column('content_hash').execute();

  await db.schema
    .createTable('installs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('extension_id', 'text', (c) => c.notNull().references('extensions.id').onDelete('cascade'))
    .addColumn('version_id', 'text', (c) => c.notNull().references('extension_versions.id'))
    .addColumn('grants', 'text', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('egress_allow', 'text', (c) => c.notNull())
    .addColumn('ui_proxy', 'text')
    .addColumn('limits', 'text', (c) => c.notNull())
    .addColumn('instance_mode', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('installs_tenant_extension_unique', ['tenant_id', 'extension_id'])
    .execute();
  await db.schema.createIndex('installs_version_id').on('installs').column('version_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('installs').execute();
  await db.schema.dropTable('extension_versions').execute();
  await db.schema.dropTable('extensions').execute();
}
