/** The runner's store: one API over SQLite (embedded default) and PostgreSQL. */
export { openStore, StoreConfigError, SQLITE_FILE_NAME, POSTGRES_CONNECT_TIMEOUT_MS, PING_TIMEOUT_MS } from './open-store.js';
export { SQLITE_SYNCHRONOUS, type SqliteSynchronous } from './sqlite-synchronous.js';
export { isStoreUnavailableError } from './unavailable.js';
export type { OpenStoreOptions, Store } from './open-store.js';
export type { StoreDialect } from './dialect.js';
export { dialectOf, dialectTypes } from './dialect.js';
export type { Database } from './database.js';
export { FolderMigrationProvider, migrateToLatest, MIGRATIONS_DIR, MigrationFailedError } from './migrate.js';
export * from './registry.js';
export * from './secrets.js';
export * from './secrets-key.js';
export * from './kv.js';
export * from './kv-limits.js';
export * from './logs.js';
export * from './truncate-utf8.js';
export * from './idempotency.js';
export { SqliteReader } from './sqlite-reader.js';
export type { ReadOnlyStoreFile } from './sqlite-reader.js';
