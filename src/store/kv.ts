/**
 * Key/value storage per install (DESIGN.md §4 "storage", §7 quotas).
 *
 * Every write runs in one transaction that first upserts the install's `kv_usage` row. That
 * write takes the row lock on PostgreSQL (and the database write lock on SQLite), so writes of
 * one install are serialized: compare-and-swap, quota counters and the entry itself always
 * agree, however many connections race. A write is acknowledged only after its commit, which
 * is durable (SQLite WAL + synchronous=FULL; PostgreSQL's default fsync on commit).
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './database.js';
import type { KvLimits } from './kv-limits.js';
import { DEFAULT_KV_LIMITS, invalidName } from './kv-limits.js';

export interface KvEntry {
  readonly namespace: string;
  readonly key: string;
  readonly value: Uint8Array;
  /** 1 on creation, +1 on every write */
  readonly revision: number;
}

export interface KvPut {
  readonly namespace: string;
  readonly key: string;
  readonly value: Uint8Array;
  /** set → compare-and-swap against this revision (0 = only if absent); unset → upsert */
  readonly revision?: number | undefined;
}

export type KvDenied = { readonly kind: 'denied'; readonly reason: string };
export type KvGetResult = { readonly kind: 'ok'; readonly entry: KvEntry } | { readonly kind: 'missing' } | KvDenied;
export type KvPutResult = { readonly kind: 'ok'; readonly entry: KvEntry } | { readonly kind: 'conflict' } | KvDenied;
export type KvDeleteResult = { readonly kind: 'ok' } | { readonly kind: 'missing' } | KvDenied;
export type KvListResult = { readonly kind: 'ok'; readonly entries: readonly KvEntry[] } | KvDenied;

export interface KvUsage {
  readonly totalBytes: number;
  readonly namespaces: number;
}

export interface KvStore {
  get(installId: string, namespace: string, key: string, limits?: KvLimits): Promise<KvGetResult>;
  put(installId: string, entry: KvPut, limits?: KvLimits): Promise<KvPutResult>;
  delete(installId: string, namespace: string, key: string, limits?: KvLimits): Promise<KvDeleteResult>;
  /** Up to `limits.pageSize` entries with key > `cursor`, ordered by key (byte-wise); empty = end. */
  list(installId: string, namespace: string, cursor?: string, limits?: KvLimits): Promise<KvListResult>;
  usage(installId: string): Promise<KvUsage>;
  /** Remove all of an install's data (uninstall). */
  deleteInstall(installId: string): Promise<void>;
}

const toEntry = (row: { namespace: string; key: string; value: Buffer; revision: number }): KvEntry => ({
  namespace: row.namespace,
  key: row.key,
  value: new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength),
  revision: Number(row.revision),
});

/** Upsert (and so lock) the install's usage row, returning its counters. */
async function lockUsage(trx: Transaction<Database>, installId: string): Promise<KvUsage> {
  const row = await trx
    .insertInto('kv_usage')
    .values({ install_id: installId, total_bytes: 0, namespace_count: 0 })
    .onConflict((oc) => oc.column('install_id').doUpdateSet((eb) => ({ install_id: eb.ref('excluded.install_id') })))
    .returning(['total_bytes', 'namespace_count'])
    .executeTakeFirstOrThrow();
  return { totalBytes: Number(row.total_bytes), namespaces: Number(row.namespace_count) };
}

export function createKvStore(db: Kysely<Database>, now: () => number): KvStore {
  return {
    async get(installId, namespace, key, limits = DEFAULT_KV_LIMITS) {
      const invalid = invalidName(namespace, key, limits);
      if (invalid) return { kind: 'denied', reason: invalid };
      const row = await db
        .selectFrom('kv_entries')
        .select(['namespace', 'key', 'value', 'revision'])
        .where('install_id', '=', installId)
        .where('namespace', '=', namespace)
        .where('key', '=', key)
        .executeTakeFirst();
      return row ? { kind: 'ok', entry: toEntry(row) } : { kind: 'missing' };
    },

    async put(installId, input, limits = DEFAULT_KV_LIMITS) {
      const invalid = invalidName(input.namespace, input.key, limits);
      if (invalid) return { kind: 'denied', reason: invalid };
      const size = input.value.byteLength;
      if (size > limits.maxValueBytes) return { kind: 'denied', reason: `value of ${size} bytes exceeds ${limits.maxValueBytes} bytes` };
      if (input.revision !== undefined && (!Number.isSafeInteger(input.revision) || input.revision < 0)) {
        return { kind: 'denied', reason: 'revision must be a non-negative integer' };
      }
      const { namespace, key } = input;
      const value = Buffer.from(input.value.buffer, input.value.byteOffset, input.value.byteLength);

      return db.transaction().execute(async (trx): Promise<KvPutResult> => {
        const usage = await lockUsage(trx, installId);
        const existing = await trx
          .selectFrom('kv_entries')
          .select(['revision', 'size'])
          .where('install_id', '=', installId)
          .where('namespace', '=', namespace)
          .where('key', '=', key)
          .executeTakeFirst();
        const currentRevision = existing ? Number(existing.revision) : 0;
        if (input.revision !== undefined && input.revision !== currentRevision) return { kind: 'conflict' };

        const oldSize = existing ? Number(existing.size) : 0;
        let namespaceIsNew = false;
        if (!existing) {
          const ns = await trx
            .selectFrom('kv_namespaces')
            .select('key_count')
            .where('install_id', '=', installId)
            .where('namespace', '=', namespace)
            .executeTakeFirst();
          namespaceIsNew = ns === undefined;
          if (namespaceIsNew && usage.namespaces >= limits.maxNamespacesPerInstall) {
            return { kind: 'denied', reason: `install already has ${limits.maxNamespacesPerInstall} namespaces` };
          }
          if (ns && Number(ns.key_count) >= limits.maxKeysPerNamespace) {
            return { kind: 'denied', reason: `namespace "${namespace}" already has ${limits.maxKeysPerNamespace} keys` };
          }
        }
        const totalBytes = usage.totalBytes - oldSize + size;
        if (totalBytes > limits.maxBytesPerInstall) {
          return { kind: 'denied', reason: `install storage would reach ${totalBytes} bytes, over ${limits.maxBytesPerInstall} bytes` };
        }

        const revision = currentRevision + 1;
        if (existing) {
          await trx
            .updateTable('kv_entries')
            .set({ value, size, revision, updated_at: now() })
            .where('install_id', '=', installId)
            .where('namespace', '=', namespace)
            .where('key', '=', key)
            .execute();
        } else {
          await trx
            .insertInto('kv_entries')
            .values({ install_id: installId, namespace, key, value, size, revision, updated_at: now() })
            .execute();
          if (namespaceIsNew) {
            await trx.insertInto('kv_namespaces').values({ install_id: installId, namespace, key_count: 1 }).execute();
          } else {
            await trx
              .updateTable('kv_namespaces')
              .set((eb) => ({ key_count: eb('key_count', '+', 1) }))
              .where('install_id', '=', installId)
              .where('namespace', '=', namespace)
              .execute();
          }
        }
        await trx
          .updateTable('kv_usage')
          .set({ total_bytes: totalBytes, namespace_count: usage.namespaces + (namespaceIsNew ? 1 : 0) })
          .where('install_id', '=', installId)
          .execute();
        return { kind: 'ok', entry: { namespace, key, value: input.value, revision } };
      });
    },

    async delete(installId, namespace, key, limits = DEFAULT_KV_LIMITS) {
      const invalid = invalidName(namespace, key, limits);
      if (invalid) return { kind: 'denied', reason: invalid };
      return db.transaction().execute(async (trx): Promise<KvDeleteResult> => {
        const usage = await lockUsage(trx, installId);
        const removed = await trx
          .deleteFrom('kv_entries')
          .where('install_id', '=', installId)
          .where('namespace', '=', namespace)
          .where('key', '=', key)
          .returning('size')
          .executeTakeFirst();
        if (!removed) return { kind: 'missing' };
        const ns = await trx
          .updateTable('kv_namespaces')
          .set((eb) => ({ key_count: eb('key_count', '-', 1) }))
          .where('install_id', '=', installId)
          .where('namespace', '=', namespace)
          .returning('key_count')
          .executeTakeFirstOrThrow();
        const namespaceEmptied = Number(ns.key_count) === 0;
        if (namespaceEmptied) {
          await trx.deleteFrom('kv_namespaces').where('install_id', '=', installId).where('namespace', '=', namespace).execute();
        }
        await trx
          .updateTable('kv_usage')
          .set({
            total_bytes: usage.totalBytes - Number(removed.size),
            namespace_count: usage.namespaces - (namespaceEmptied ? 1 : 0),
          })
          .where('install_id', '=', installId)
          .execute();
        return { kind: 'ok' };
      });
    },

    async list(installId, namespace, cursor, limits = DEFAULT_KV_LIMITS) {
      const invalid = invalidName(namespace, undefined, limits);
      if (invalid) return { kind: 'denied', reason: invalid };
      let query = db
        .selectFrom('kv_entries')
        .select(['namespace', 'key', 'value', 'revision'])
        .where('install_id', '=', installId)
        .where('namespace', '=', namespace);
      if (cursor !== undefined) query = query.where('key', '>', cursor);
      const rows = await query.orderBy('key').limit(limits.pageSize).execute();
      return { kind: 'ok', entries: rows.map(toEntry) };
    },

    async usage(installId) {
      const row = await db
        .selectFrom('kv_usage')
        .select(['total_bytes', 'namespace_count'])
        .where('install_id', '=', installId)
        .executeTakeFirst();
      return { totalBytes: Number(row?.total_bytes ?? 0), namespaces: Number(row?.namespace_count ?? 0) };
    },

    async deleteInstall(installId) {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('kv_entries').where('install_id', '=', installId).execute();
        await trx.deleteFrom('kv_namespaces').where('install_id', '=', installId).execute();
        await trx.deleteFrom('kv_usage').where('install_id', '=', installId).execute();
      });
    },
  };
}
