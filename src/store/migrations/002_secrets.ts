/**
 * Install secrets, AES-256-GCM encrypted per row (see ../secrets.ts). No foreign key to installs:
 * uninstalling deletes them explicitly, and `alga-runner run` keeps secrets for an ad-hoc install.
 */
import type { Kysely } from 'kysely';
import { dialectOf, dialectTypes } from '../dialect.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = dialectTypes(dialectOf(db));
  await db.schema
    .createTable('install_secrets')
    .addColumn('install_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('iv', t.bytes, (c) => c.notNull())
    .addColumn('ciphertext', t.bytes, (c) => c.notNull())
    .addColumn('auth_tag', t.bytes, (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('install_secrets_pk', ['install_id', 'name'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('install_secrets').execute();
}
