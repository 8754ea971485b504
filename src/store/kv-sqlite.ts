/**
 * Storage writes on SQLite, as synchronous functions over prepared statements (sqlite-prepared.ts):
 * group-commit.ts runs a batch of them in one transaction on the store's connection. The same
 * checks as PostgreSQL's kv_write_batch (migration 061): the install fence, compare-and-swap, the
 * quotas and the `kv_usage` / `kv_namespaces` bookkeeping — each write sees the ones before it in
 * its batch. The denials are worded in kv.ts for both stores.
 */
import type { Compilable, Kysely } from 'kysely';
import type { Database } from './database.js';
import type { KvLimits } from './kv-limits.js';
import type { KvWriteAnswer } from './kv-postgres.js';
import type { SqliteConnection } from './sqlite-driver.js';
import { prepareQuery, sqliteCompiler } from './sqlite-prepared.js';
import { sqliteInstallPresence } from './install-fence.js';

/** Answers in the words of PostgreSQL's batch (kv-postgres.ts), which kv.ts turns into results for both stores. */
export interface SqliteKvWrites {
  /** `revision`: compare-and-swap against it (0 = only if absent); undefined = upsert */
  put(installId: string, namespace: string, key: string, value: Buffer, revision: number | undefined, limits: KvLimits): KvWriteAnswer;
  delete(installId: string, namespace: string, key: string): KvWriteAnswer;
}

// Everything a write must know, in one statement.
const entryColumn = (db: Kysely<Database>, column: 'revision' | 'size', installId: string, namespace: string, key: string) =>
  db.selectFrom('kv_entries').select(column).where('install_id', '=', installId).where('namespace', '=', namespace).where('key', '=', key);
const usageColumn = (db: Kysely<Database>, column: 'total_bytes' | 'namespace_count', installId: string) => db.selectFrom('kv_usage').select(column).where('install_id', '=', installId);

function writeStateQuery(db: Kysely<Database>, installId: string, namespace: string, key: string) {
  return db.selectNoFrom((eb) => [
    entryColumn(db, 'revision', installId, namespace, key).as('revision'),
    entryColumn(db, 'size', installId, namespace, key).as('size'),
    eb.selectFrom('kv_namespaces').select('key_count').where('install_id', '=', installId).where('namespace', '=', namespace).as('key_count'),
    usageColumn(db, 'total_bytes', installId).as('total_bytes'),
    usageColumn(db, 'namespace_count', installId).as('namespace_count'),
  ]);
}

/** `fenced`: a write first checks that its install is in the registry (install-fence.ts); the store's one connection keeps it there until the commit. */
export function createSqliteKvWrites(connection: SqliteConnection, now: () => number, fenced: boolean): SqliteKvWrites {
  const db = sqliteCompiler();
  const prepare = <A extends readonly unknown[], R>(build: (d: Kysely<Database>, ...args: A) => Compilable<R>) => prepareQuery(connection, db, build);
  const installPresent = sqliteInstallPresence(connection);
  const state = prepare(writeStateQuery);
  const updateEntry = prepare((d, value: Buffer, size: number, revision: number, updatedAt: number, installId: string, namespace: string, key: string) =>
    d.updateTable('kv_entries').set({ value, size, revision, updated_at: updatedAt }).where('install_id', '=', installId).where('namespace', '=', namespace).where('key', '=', key),
  );
  const insertEntry = prepare((d, installId: string, namespace: string, key: string, value: Buffer, size: number, revision: number, updatedAt: number) =>
    d.insertInto('kv_entries').values({ install_id: installId, namespace, key, value, size, revision, updated_at: updatedAt }),
  );
  const countKey = prepare((d, installId: string, namespace: string) =>
    d
      .insertInto('kv_namespaces')
      .values({ install_id: installId, namespace, key_count: 1 })
      .onConflict((oc) => oc.columns(['install_id', 'namespace']).doUpdateSet((eb) => ({ key_count: eb('kv_namespaces.key_count', '+', 1) }))),
  );
  const deleteEntry = prepare((d, installId: string, namespace: string, key: string) =>
    d.deleteFrom('kv_entries').where('install_id', '=', installId).where('namespace', '=', namespace).where('key', '=', key),
  );
  const deleteNamespace = prepare((d, installId: string, namespace: string) => d.deleteFrom('kv_namespaces').where('install_id', '=', installId).where('namespace', '=', namespace));
  const uncountKey = prepare((d, installId: string, namespace: string) =>
    d
      .updateTable('kv_namespaces')
      .set((eb) => ({ key_count: eb('key_count', '-', 1) }))
      .where('install_id', '=', installId)
      .where('namespace', '=', namespace),
  );
  const writeUsage = prepare((d, installId: string, totalBytes: number, namespaces: number) =>
    d
      .insertInto('kv_usage')
      .values({ install_id: installId, total_bytes: totalBytes, namespace_count: namespaces })
      .onConflict((oc) => oc.column('install_id').doUpdateSet((eb) => ({ total_bytes: eb.ref('excluded.total_bytes'), namespace_count: eb.ref('excluded.namespace_count') }))),
  );

  const num = (v: number | bigint | null | undefined) => (v === null || v === undefined ? null : Number(v));
  const readState = (installId: string, namespace: string, key: string) => {
    const row = state.first(installId, namespace, key) as Record<string, number | null> | undefined;
    return {
      revision: num(row?.['revision']),
      size: num(row?.['size']),
      keyCount: num(row?.['key_count']),
      totalBytes: num(row?.['total_bytes']) ?? 0,
      namespaces: num(row?.['namespace_count']) ?? 0,
    };
  };
  const present = (installId: string) => !fenced || installPresent(installId);

  return {
    put(installId, namespace, key, value, expected, limits) {
      if (!present(installId)) return { outcome: 'removed' };
      const s = readState(installId, namespace, key);
      const exists = s.revision !== null;
      const currentRevision = s.revision ?? 0;
      if (expected !== undefined && expected !== currentRevision) return { outcome: 'conflict' };
      const namespaceIsNew = s.keyCount === null;
      if (!exists && namespaceIsNew && s.namespaces >= limits.maxNamespacesPerInstall) return { outcome: 'namespaces' };
      if (!exists && !namespaceIsNew && (s.keyCount ?? 0) >= limits.maxKeysPerNamespace) return { outcome: 'keys' };
      const size = value.byteLength;
      const totalBytes = s.totalBytes - (s.size ?? 0) + size;
      if (totalBytes > limits.maxBytesPerInstall) return { outcome: 'bytes', total: totalBytes };
      const revision = currentRevision + 1;
      if (exists) updateEntry.run(value, size, revision, now(), installId, namespace, key);
      else {
        insertEntry.run(installId, namespace, key, value, size, revision, now());
        countKey.run(installId, namespace);
      }
      writeUsage.run(installId, totalBytes, s.namespaces + (!exists && namespaceIsNew ? 1 : 0));
      return { outcome: 'ok', revision };
    },

    delete(installId, namespace, key) {
      if (!present(installId)) return { outcome: 'removed' };
      const s = readState(installId, namespace, key);
      if (s.revision === null) return { outcome: 'missing' };
      deleteEntry.run(installId, namespace, key);
      const namespaceEmptied = s.keyCount === 1;
      if (namespaceEmptied) deleteNamespace.run(installId, namespace);
      else uncountKey.run(installId, namespace);
      writeUsage.run(installId, s.totalBytes - (s.size ?? 0), s.namespaces - (namespaceEmptied ? 1 : 0));
      return { outcome: 'ok', revision: null };
    },
  };
}
