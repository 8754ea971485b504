/**
 * The PostgreSQL the tests use (TEST_DATABASE_URL, default the machine's server). Whether it
 * answers is checked once per process: with CI=true an unreachable server fails the run; locally
 * the PostgreSQL legs are skipped with the reason.
 */
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let checked: Promise<string | false> | null = null;

/** false when PostgreSQL answers; else why not (a node:test `skip` value). Throws under CI. */
export function postgresSkipReason(): Promise<string | false> {
  checked ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return false;
    } catch (e) {
      const why = `PostgreSQL at ${TEST_DATABASE_URL} is unreachable (${e instanceof Error ? e.message : String(e)})`;
      if (process.env.CI === 'true') throw new Error(`${why} and CI=true`);
      return `${why}; set CI=true to make this fail`;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return checked;
}

/** Drops a test's own schema (and everything in it) from TEST_DATABASE_URL. */
export async function dropTestSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}
