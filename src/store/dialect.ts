/**
 * The two SQL dialects the store speaks, and the few column types that differ between them.
 * Migrations use these so one migration file serves both backends.
 */
import type { Kysely } from 'kysely';
import { PostgresAdapter, sql } from 'kysely';
import type { RawBuilder } from 'kysely';

export type StoreDialect = 'sqlite' | 'postgres';

/** Which dialect a Kysely instance (or a migration's `db`) talks to. */
export function dialectOf(db: Kysely<unknown>): StoreDialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

export interface DialectTypes {
  /** raw bytes */
  readonly bytes: 'blob' | 'bytea';
  /**
   * A text column compared and ordered byte-wise on both backends. SQLite's default BINARY
   * collation already is; PostgreSQL's default follows the locale, so storage keys would sort
   * (and page by cursor) differently there without an explicit "C" collation.
   */
  readonly bytewiseCollation: RawBuilder<unknown> | null;
}

export function dialectTypes(dialect: StoreDialect): DialectTypes {
  return dialect === 'postgres' ? { bytes: 'bytea', bytewiseCollation: sql`collate "C"` } : { bytes: 'blob', bytewiseCollation: null };
}
