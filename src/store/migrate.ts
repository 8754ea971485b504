/**
 * Versioned schema migrations, run when a store opens.
 *
 * Migrations are the files `NNN_name.js` in the compiled `migrations/` folder next to this
 * module, applied in file-name order; adding one means adding a file, no index to edit.
 * Kysely's Migrator records applied names in `kysely_migration`. Two runners starting on one
 * database never both apply a migration: on PostgreSQL the Migrator holds an advisory lock and
 * runs the batch in a transaction; on SQLite (where Kysely takes no lock) the batch runs inside
 * one BEGIN IMMEDIATE transaction, which excludes other writers. Either way the second runner
 * waits, then finds nothing left to do, and a failed batch leaves no half-applied migration.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { Migrator, sql } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { dialectOf } from './dialect.js';

const MIGRATION_FILE = /^\d{3}_[A-Za-z0-9_-]+\.js$/;

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Reads `NNN_name.js` files from a folder; the migration's name is the file name without `.js`. */
export class FolderMigrationProvider implements MigrationProvider {
  constructor(private readonly folder: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const names = (await readdir(this.folder)).filter((f) => MIGRATION_FILE.test(f)).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of names) {
      const mod = (await import(pathToFileURL(join(this.folder, file)).href)) as Partial<Migration>;
      if (typeof mod.up !== 'function') throw new Error(`migration ${file} does not export an up() function`);
      migrations[file.slice(0, -'.js'.length)] = mod as Migration;
    }
    return migrations;
  }
}

export class MigrationFailedError extends Error {
  constructor(migrationName: string | undefined, cause: unknown) {
    super(`store migration ${migrationName ?? '(setup)'} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'MigrationFailedError';
  }
}

/**
 * Apply every pending migration. `schema` (PostgreSQL) is where the migration bookkeeping
 * tables live — the same schema as the data, so separate schemas migrate independently.
 * Returns the names applied by this call.
 */
export async function migrateToLatest(db: Kysely<unknown>, options: { schema?: string; folder?: string } = {}): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new FolderMigrationProvider(options.folder ?? MIGRATIONS_DIR),
    ...(options.schema !== undefined ? { migrationTableSchema: options.schema } : {}),
  });
  const sqlite = dialectOf(db) === 'sqlite';
  for (let attempt = 1; ; attempt++) {
    if (sqlite) await sql`begin immediate`.execute(db);
    const { error, results } = await migrator.migrateToLatest();
    if (sqlite) await sql.raw(error === undefined ? 'commit' : 'rollback').execute(db);
    if (error === undefined) return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    const failed = results?.find((r) => r.status === 'Error');
    if (failed === undefined && attempt < SETUP_ATTEMPTS && isCatalogRace(error, options.schema)) continue;
    throw new MigrationFailedError(failed?.migrationName, error);
  }
}

const SETUP_ATTEMPTS = 3;

/**
 * kysely's migrator looks for its bookkeeping tables by listing every table of the database with
 * their columns (`pg_get_serial_sequence` per column); on PostgreSQL that listing fails when
 * another schema is dropped while it runs ("schema ... does not exist", SQLSTATE 3F000) or a table
 * elsewhere is dropped or created under it ("column ... of relation ... does not exist", 42703;
 * "relation ... does not exist", 42P01) — another runner sharing the database, or a parallel test
 * file cleaning up. Nothing was changed yet, so the setup is tried again.
 */
export function isCatalogRace(error: unknown, ours: string | undefined): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (code === '42703' || code === '42P01') return true;
  if (code !== '3F000') return false;
  const gone = /schema "([^"]+)" does not exist/.exec(error.message)?.[1];
  return gone !== undefined && gone !== ours;
}
