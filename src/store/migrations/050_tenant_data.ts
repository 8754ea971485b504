/**
 * Tables of the embedded tenant-data backend: a tenant's clients and service catalogue, with
 * Alga's column names, keyed by (tenant, id).
 *
 * Two columns per table are ours, not Alga's: `name_key` (the name folded for case- and
 * accent-insensitive sorting and search) and `billing_email_key` / `sku_key` (folded for search).
 * They are computed in TypeScript on write so that SQLite and PostgreSQL sort and match exactly
 * alike: SQLite's lower() only folds ASCII and PostgreSQL's default collation is locale-aware, so
 * neither database may be left to decide. On PostgreSQL the key and id columns use the "C"
 * (bytewise) collation, which orders UTF-8 text like SQLite's BINARY does.
 *
 * Booleans are stored as 0/1 integers on both backends: better-sqlite3 cannot bind a JS boolean,
 * and one representation keeps every query identical.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';
import { dialectOf, dialectTypes } from '../dialect.js';

type Column = (col: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;

export async function up(db: Kysely<unknown>): Promise<void> {
  const { bytewiseCollation } = dialectTypes(dialectOf(db));
  const binary: Column = (col) => (bytewiseCollation ? col.modifyFront(bytewiseCollation) : col);
  const flag =
    (name: string): Column =>
    (col) =>
      col.notNull().check(sql`${sql.ref(name)} in (0, 1)`);

  await db.schema
    .createTable('tenant_clients')
    .addColumn('tenant', 'text', (col) => col.notNull())
    .addColumn('client_id', 'text', (col) => binary(col).notNull())
    .addColumn('client_name', 'text', (col) => col.notNull())
    .addColumn('client_type', 'text')
    .addColumn('is_inactive', 'integer', flag('is_inactive'))
    .addColumn('default_currency_code', 'text')
    .addColumn('account_manager_id', 'text')
    .addColumn('account_manager_name', 'text')
    .addColumn('billing_email', 'text')
    .addColumn('name_key', 'text', (col) => binary(col).notNull())
    .addColumn('billing_email_key', 'text')
    .addPrimaryKeyConstraint('tenant_clients_pk', ['tenant', 'client_id'])
    .execute();
  // Listing is "this tenant, (in)active, ordered by folded name": one index serves the filter and the sort.
  await db.schema.createIndex('tenant_clients_by_name').on('tenant_clients').columns(['tenant', 'name_key', 'client_id']).execute();

  await db.schema
    .createTable('tenant_services')
    .addColumn('tenant', 'text', (col) => col.notNull())
    .addColumn('service_id', 'text', (col) => binary(col).notNull())
    .addColumn('service_name', 'text', (col) => col.notNull())
    .addColumn('item_kind', 'text', (col) => col.notNull().check(sql`item_kind in ('service', 'product')`))
    .addColumn('billing_method', 'text', (col) => col.notNull().check(sql`billing_method in ('fixed', 'hourly', 'usage')`))
    .addColumn('service_type_id', 'text')
    .addColumn('service_type_name', 'text')
    .addColumn('default_rate', 'double precision', (col) => col.notNull())
    .addColumn('unit_of_measure', 'text', (col) => col.notNull())
    .addColumn('is_active', 'integer', flag('is_active'))
    .addColumn('sku', 'text')
    .addColumn('name_key', 'text', (col) => binary(col).notNull())
    .addColumn('sku_key', 'text')
    .addPrimaryKeyConstraint('tenant_services_pk', ['tenant', 'service_id'])
    .execute();
  await db.schema.createIndex('tenant_services_by_name').on('tenant_services').columns(['tenant', 'name_key', 'service_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tenant_services').ifExists().execute();
  await db.schema.dropTable('tenant_clients').ifExists().execute();
}
