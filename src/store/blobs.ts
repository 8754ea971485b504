/**
 * The `component_blobs` table (migration 052): bytes by content hash, written once. The bundle
 * layer's TableBundleStore (src/bundle/stores/table-store.ts) verifies what it reads; this module
 * only moves rows.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';

export interface StoredBlob {
  /** what the bytes are (a bundle or a bare component: the key layout's file name) */
  file: string;
  bytes: Uint8Array;
}

export interface BlobStore {
  read(contentHash: string): Promise<StoredBlob | null>;
  /** a second write of the same hash changes nothing (the bytes are the hash's, whoever wrote them) */
  write(contentHash: string, file: string, bytes: Uint8Array): Promise<void>;
  /** proves the table answers (readiness) */
  ping(): Promise<void>;
}

export function createBlobStore(db: Kysely<Database>, now: () => number): BlobStore {
  return {
    async read(contentHash) {
      const row = await db.selectFrom('component_blobs').select(['file', 'bytes']).where('content_hash', '=', contentHash).executeTakeFirst();
      return row ? { file: row.file, bytes: new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength) } : null;
    },
    async write(contentHash, file, bytes) {
      await db
        .insertInto('component_blobs')
        .values({ content_hash: contentHash, file, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), size: bytes.byteLength, created_at: now() })
        .onConflict((oc) => oc.column('content_hash').doNothing())
        .execute();
    },
    async ping() {
      await sql`select 1 from component_blobs limit 1`.execute(db);
    },
  };
}
