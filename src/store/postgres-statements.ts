/**
 * PostgreSQL: the store's hot statements (a storage write batch, its flush, a log append batch)
 * run as named prepared statements — parsed and planned once per connection instead of at every
 * call. kysely sends every query unnamed; the pool's clients (open-store.ts) send a query whose
 * text was registered here under its name instead (node-postgres prepares it on the connection's
 * first use). Only registered texts: each is one fixed statement with parameters, so a connection
 * holds a handful of them.
 */
import { createHash } from 'node:crypto';
import type { Kysely, QueryResult, RawBuilder } from 'kysely';

const registries = new WeakMap<Kysely<never>, Map<string, string>>();

/** Called by openStore for its PostgreSQL kysely: the texts to send as named statements, and their names. */
export function rememberPostgresStatements<DB>(db: Kysely<DB>, names: Map<string, string>): void {
  registries.set(db as unknown as Kysely<never>, names);
}

/** The statement's name for `text` (the same text, the same name, in every process). */
export const statementName = (text: string): string => `alga_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;

/** Run `query` (a statement whose text is the same at every call: values are parameters) as a named statement. */
export async function executeNamed<DB, R>(db: Kysely<DB>, query: RawBuilder<R>): Promise<QueryResult<R>> {
  const compiled = query.compile(db);
  const names = registries.get(db as unknown as Kysely<never>);
  if (names && !names.has(compiled.sql)) names.set(compiled.sql, statementName(compiled.sql));
  return db.executeQuery(compiled);
}
