/**
 * The component store in the database (src/store/blobs.ts): what an upload stored — a bare
 * component's bytes or a bundle's — keyed by its content hash, so every replica on the database
 * can fetch, verify and prepare a version another replica registered.
 */
import type { Kysely } from 'kysely';
import { dialectOf, dialectTypes } from '../dialect.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = dialectTypes(dialectOf(db));
  await db.schema
    .createTable('component_blobs')
    .addColumn('content_hash', 'text', (c) => c.primaryKey())
    // what the bytes are: `bundle.tar.zst` or `component.wasm` (src/bundle/stores/key-layout.ts)
    .addColumn('file', 'text', (c) => c.notNull())
    .addColumn('bytes', t.bytes, (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('component_blobs').execute();
}
