/**
 * A guest worker's reads of the embedded store, over the worker's one read-only connection
 * (sqlite-reader.ts): what the capabilities' worker sides read through. The engine opens it once
 * per worker, on the first side's use (engine/guest/worker-sides.ts), and hands it to every side;
 * each reader is built on first use.
 */
import { createKvReader, type KvReader } from './kv.js';
import { createSecretsReader, type SecretsReader } from './secrets.js';
import { SqliteReader, type WorkerReadableStore } from './sqlite-reader.js';
import { createTenantDataReader, type TenantDataReader } from './tenant-data.js';

export class WorkerStoreReads {
  private kvReader: KvReader | undefined;
  private secretsReader: SecretsReader | undefined;
  private tenantDataReader: TenantDataReader | undefined;

  private constructor(
    private readonly reader: SqliteReader,
    private readonly secretsKey: Buffer | null,
  ) {}

  /** Opens the store's file read-only (it must exist: the main thread created and migrated it). */
  static open(store: WorkerReadableStore): WorkerStoreReads {
    // structured clone turned the key's Buffer into a plain Uint8Array
    return new WorkerStoreReads(SqliteReader.open(store.sqliteFile), store.secretsKey ? Buffer.from(store.secretsKey) : null);
  }

  /** storage: get and list */
  get kv(): KvReader {
    return (this.kvReader ??= createKvReader(this.reader));
  }

  /** secrets: get and list, decrypted with the store's key */
  get secrets(): SecretsReader {
    return (this.secretsReader ??= createSecretsReader(this.reader, this.secretsKey));
  }

  /** clients and services, for the execution's tenant */
  get tenantData(): TenantDataReader {
    return (this.tenantDataReader ??= createTenantDataReader(this.reader));
  }
}
