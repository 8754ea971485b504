/**
 * The change feed's backstop (change-feed.ts): one row whose generation every install change
 * bumps in its own transaction. Replicas read it every second or so; a value they have not seen
 * means they missed a notification, and they drop everything they cache about installs.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('change_feed')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('generation', 'bigint', (c) => c.notNull())
    .execute();
  await sql`insert into change_feed (id, generation) values (1, 0)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('change_feed').execute();
}
