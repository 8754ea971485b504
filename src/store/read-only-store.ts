/**
 * The embedded store read from another thread, over one read-only connection (sqlite-reader.ts):
 * storage, secrets and tenant-data reads, each built on first use. The engine opens one per guest
 * worker, on the first worker side's use (engine/guest/worker-sides.ts), and hands it to every side.
 */
import { createKvReader, type KvReader } from './kv.js';
import { createSecretsReader, type SecretsReader } from './secrets.js';
import { SqliteReader, type ReadOnlyStoreFile } from './sqlite-reader.js';
import { createTenantDataReader, type TenantDataReader } from './tenant-data.js';

export class ReadOnlyStore {
  private kvReader: KvReader | undefined;
  private secretsReader: SecretsReader | undefined;
  private tenantDataReader: TenantDataReader | undefined;

  private constructor(
    private readonly reader: SqliteReader,
    private readonly secretsKey: Buffer | null,
  ) {}

  /** Opens the store's file read-only (it must exist: the main thread created and migrated it). */
  static open(store: ReadOnlyStoreFile): ReadOnlyStore {
    // structured clone turned the key's Buffer into a plain Uint8Array
    return new ReadOnlyStore(SqliteReader.open(store.sqliteFile), store.secretsKey ? Buffer.from(store.secretsKey) : null);
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
