/**
 * A kysely query compiled once into a better-sqlite3 statement, then run with each call's
 * arguments — synchronously. kysely builds and compiles a query in 20-25 µs and its SQLite driver
 * adds a few awaits per statement; a prepared statement runs a point read or write in a few µs. The
 * hot paths (a guest worker's reads, the main thread's reads and storage writes) use these; the
 * rest of the store goes through kysely as usual. The queries are still written with kysely, once.
 */
import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, type Compilable } from 'kysely';
import type { Database } from './database.js';
import type { SqliteConnection } from './sqlite-driver.js';

export interface PreparedQuery<Args extends readonly unknown[], Row> {
  first(...args: Args): Row | undefined;
  all(...args: Args): Row[];
  /** a write: how many rows it changed */
  run(...args: Args): number;
}

/** A kysely that only builds and compiles SQLite queries (it has no connection: DummyDriver). */
export function sqliteCompiler(): Kysely<Database> {
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
}

/**
 * Prepares the query `build` makes on `connection`. Every argument must end up as query
 * parameters, unchanged, whatever its value (no argument may change the query's shape — an
 * optional filter, an `in` list): `build` is called once, with placeholder strings, and each
 * parameter that is a placeholder takes its argument at run time. `arity`: how many arguments
 * (default: the ones `build` declares; give it for a build with rest arguments).
 */
export function prepareQuery<Args extends readonly unknown[], Row>(
  connection: SqliteConnection,
  compiler: Kysely<Database>,
  build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>,
  arity = build.length - 1,
): PreparedQuery<Args, Row> {
  const placeholders = Array.from({ length: arity }, (_, i) => `\u0000prepared-argument-${i}\u0000`);
  const compiled = build(compiler, ...(placeholders as unknown as Args)).compile();
  // each parameter: the index of the argument it takes, or a constant of the query
  const sources: ({ arg: number } | { value: unknown })[] = compiled.parameters.map((p) => {
    const arg = typeof p === 'string' ? placeholders.indexOf(p) : -1;
    return arg >= 0 ? { arg } : { value: p };
  });
  placeholders.forEach((_, i) => {
    if (!sources.some((s) => 'arg' in s && s.arg === i)) throw new Error(`bug: argument ${i} of a prepared query is not a parameter of ${compiled.sql}`);
  });
  const statement = connection.prepare(compiled.sql);
  const parameters = (args: Args) => sources.map((s) => ('arg' in s ? args[s.arg] : s.value));
  return {
    first: (...args) => statement.get(...parameters(args)) as Row | undefined,
    all: (...args) => statement.all(...parameters(args)) as Row[],
    run: (...args) => statement.run(...parameters(args)).changes,
  };
}
