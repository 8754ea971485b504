/**
 * The store backends of Alga's scheduler and invoicing interfaces (cap:scheduler.manage,
 * cap:invoice.manual.create), for a runner without Alga behind it:
 *
 *  - `extension_schedules`: an install's schedules, with Alga's columns (tenant_extension_schedule):
 *    the endpoint is kept as method + path of the installed version (Alga keeps an endpoint row id),
 *    the payload as JSON text, times as epoch milliseconds like every table here. `next_run_at` is
 *    when the schedule is next due (null: disabled). A schedule goes with its install.
 *  - `tenant_invoices`: the draft manual invoices extensions created, per tenant, with Alga's
 *    invoice columns (amounts in cents, as Alga keeps them) and the line items as JSON text.
 *    Invoice numbers are per tenant (INV-000001, ...), unique.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('extension_schedules')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('install_id', 'text', (c) => c.notNull().references('installs.id').onDelete('cascade'))
    .addColumn('endpoint_method', 'text', (c) => c.notNull())
    .addColumn('endpoint_path', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('cron', 'text', (c) => c.notNull())
    .addColumn('timezone', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().check(sql`enabled in (0, 1)`))
    .addColumn('payload_json', 'text')
    .addColumn('next_run_at', 'bigint')
    .addColumn('last_run_at', 'bigint')
    .addColumn('last_run_status', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('extension_schedules_by_install').on('extension_schedules').columns(['install_id', 'created_at']).execute();
  // Alga's tenant_extension_schedule_install_name_uniq: a name is unique within its install (none is fine)
  await sql`create unique index extension_schedules_install_name on extension_schedules (install_id, name) where name is not null`.execute(db);
  await db.schema.createIndex('extension_schedules_due').on('extension_schedules').columns(['next_run_at']).execute();

  await db.schema
    .createTable('tenant_invoices')
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('invoice_id', 'text', (c) => c.notNull())
    .addColumn('invoice_number', 'text', (c) => c.notNull())
    .addColumn('sequence', 'integer', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('invoice_date', 'text', (c) => c.notNull())
    .addColumn('due_date', 'text', (c) => c.notNull())
    .addColumn('po_number', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('subtotal', 'bigint', (c) => c.notNull())
    .addColumn('tax', 'bigint', (c) => c.notNull())
    .addColumn('total_amount', 'bigint', (c) => c.notNull())
    .addColumn('is_manual', 'integer', (c) => c.notNull())
    .addColumn('items_json', 'text', (c) => c.notNull())
    .addColumn('install_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('tenant_invoices_pk', ['tenant', 'invoice_id'])
    .addUniqueConstraint('tenant_invoices_number_unique', ['tenant', 'sequence'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tenant_invoices').execute();
  await db.schema.dropTable('extension_schedules').execute();
}
