/**
 * The store backend of the invoicing interface: draft manual invoices kept in `tenant_invoices`
 * (migration 060), against the tenant's clients and services of the embedded tenant-data store
 * (migration 050). It follows Alga's createManualInvoice (invoicingHostApi.ts and the billing
 * package's persistManualInvoiceCharges / calculateNetAmount):
 *
 *  - the client, and the service of every non-discount item, must exist for the tenant
 *    (`Client not found` / `Service not found`, with the field);
 *  - amounts are integers (Alga's cents): an item's net is round(quantity × round(rate)); a fixed
 *    discount is −|round(rate)|; a percentage discount is −round(base × rate / 100), its base the
 *    net of the item for `appliesToServiceId`, else the subtotal so far (non-discount items first,
 *    then discounts in order); `appliesToItemId` names an item id this runner never handed out, so
 *    its base is 0, as on Alga for an unknown item;
 *  - tax is 0 (the store has no tax rates), total = subtotal + tax, status `draft`;
 *  - invoice date defaults to today (UTC), due date to the invoice date; numbers are per tenant,
 *    INV-000001 upwards.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { dialectOf } from './dialect.js';
import { invoiceFailure, manualInvoiceBody, validateManualInvoice, type InvoicingBackend, type ValidInvoiceItem } from './invoicing-model.js';

interface TenantInvoicesTable {
  tenant: string;
  invoice_id: string;
  invoice_number: string;
  sequence: number;
  client_id: string;
  invoice_date: string;
  due_date: string;
  po_number: string | null;
  status: string;
  subtotal: number | string;
  tax: number | string;
  total_amount: number | string;
  is_manual: number;
  items_json: string;
  install_id: string | null;
  created_at: number | string;
}

interface InvoiceTables {
  tenant_invoices: TenantInvoicesTable;
  tenant_clients: { tenant: string; client_id: string };
  tenant_services: { tenant: string; service_id: string };
}

/** A stored line item (Alga's invoice_charges columns that matter here). */
export interface StoredInvoiceItem {
  readonly itemId: string;
  readonly serviceId: string;
  readonly description: string;
  readonly quantity: number;
  readonly unitPrice: number;
  readonly netAmount: number;
  readonly isDiscount: boolean;
  readonly discountType: 'percentage' | 'fixed' | null;
  readonly appliesToItemId: string | null;
}

/** An invoice as the admin API shows it. */
export interface StoredInvoice {
  readonly invoiceId: string;
  readonly invoiceNumber: string;
  readonly clientId: string;
  readonly invoiceDate: string;
  readonly dueDate: string;
  readonly poNumber: string | null;
  readonly status: string;
  readonly subtotal: number;
  readonly tax: number;
  readonly total: number;
  readonly isManual: boolean;
  readonly installId: string | null;
  readonly createdAt: string;
  readonly items: readonly StoredInvoiceItem[];
}

export interface StoreInvoicing extends InvoicingBackend {
  /** A tenant's invoices, newest number first (the admin API). */
  listInvoices(tenantId: string): Promise<StoredInvoice[]>;
}

class InvoiceRejected extends Error {
  constructor(
    message: string,
    readonly fieldErrors?: Record<string, string>,
  ) {
    super(message);
  }
}

/** Alga's line items and subtotal (see the module comment). */
export function priceItems(items: readonly ValidInvoiceItem[]): { items: StoredInvoiceItem[]; subtotal: number } {
  const out: StoredInvoiceItem[] = [];
  const itemOfService = new Map<string, StoredInvoiceItem>();
  let subtotal = 0;
  for (const item of items.filter((i) => !i.isDiscount)) {
    const unitPrice = Math.round(item.rate);
    const stored: StoredInvoiceItem = {
      itemId: randomUUID(),
      serviceId: item.serviceId,
      description: item.description,
      quantity: item.quantity,
      unitPrice,
      netAmount: Math.round(item.quantity * unitPrice),
      isDiscount: false,
      discountType: null,
      appliesToItemId: null,
    };
    out.push(stored);
    itemOfService.set(item.serviceId, stored);
    subtotal += stored.netAmount;
  }
  for (const item of items.filter((i) => i.isDiscount)) {
    let target: StoredInvoiceItem | undefined;
    let targetId = item.appliesToItemId;
    if (item.appliesToServiceId && !targetId) {
      target = itemOfService.get(item.appliesToServiceId);
      if (!target) throw new InvoiceRejected(`Could not find invoice item for service: ${item.appliesToServiceId} to apply discount.`);
      targetId = target.itemId;
    } else if (targetId) {
      target = out.find((o) => o.itemId === targetId);
    }
    const base = targetId ? (target?.netAmount ?? 0) : subtotal;
    const netAmount = item.discountType === 'percentage' ? -Math.round((base * Math.abs(item.rate)) / 100) : -Math.abs(Math.round(item.rate));
    out.push({
      itemId: randomUUID(),
      serviceId: item.serviceId,
      description: item.description,
      quantity: item.quantity,
      unitPrice: item.discountType === 'percentage' ? 0 : -Math.abs(Math.round(item.rate)),
      netAmount,
      isDiscount: true,
      discountType: item.discountType ?? null,
      appliesToItemId: targetId ?? null,
    });
    subtotal += netAmount;
  }
  return { items: out, subtotal };
}

const todayUtc = (now: number) => new Date(now).toISOString().slice(0, 10);

export function createStoreInvoicing<DB>(database: Kysely<DB>, now: () => number = Date.now): StoreInvoicing {
  const db = database as unknown as Kysely<InvoiceTables>;
  const postgres = dialectOf(database as Kysely<unknown>) === 'postgres';

  return {
    async createManualInvoice(scope, input) {
      const validated = validateManualInvoice(manualInvoiceBody(input));
      if (!validated.ok) return invoiceFailure(validated.error, validated.fieldErrors);
      const v = validated.value;
      try {
        const created = await db.transaction().execute(async (trx) => {
          // invoice numbers of one tenant are taken one at a time (SQLite: one writer at a time anyway)
          if (postgres) await sql`select pg_advisory_xact_lock(hashtext(${`tenant_invoices:${scope.tenantId}`}))`.execute(trx);
          const client = await trx.selectFrom('tenant_clients').select('client_id').where('tenant', '=', scope.tenantId).where('client_id', '=', v.clientId).executeTakeFirst();
          if (!client) throw new InvoiceRejected('Client not found', { clientId: 'Client not found' });
          for (const item of v.items.filter((i) => !i.isDiscount)) {
            const service = await trx.selectFrom('tenant_services').select('service_id').where('tenant', '=', scope.tenantId).where('service_id', '=', item.serviceId).executeTakeFirst();
            if (!service) throw new InvoiceRejected('Service not found', { serviceId: 'Service not found' });
          }
          const { items, subtotal } = priceItems(v.items);
          const last = await trx
            .selectFrom('tenant_invoices')
            .select((eb) => eb.fn.max('sequence').as('n'))
            .where('tenant', '=', scope.tenantId)
            .executeTakeFirst();
          const sequence = Number(last?.n ?? 0) + 1;
          const invoiceDate = v.invoiceDate ?? todayUtc(now());
          const row: TenantInvoicesTable = {
            tenant: scope.tenantId,
            invoice_id: randomUUID(),
            invoice_number: `INV-${String(sequence).padStart(6, '0')}`,
            sequence,
            client_id: v.clientId,
            invoice_date: invoiceDate,
            due_date: v.dueDate ?? invoiceDate,
            po_number: v.poNumber ?? null,
            status: 'draft',
            subtotal,
            tax: 0,
            total_amount: subtotal,
            is_manual: 1,
            items_json: JSON.stringify(items),
            install_id: scope.installId,
            created_at: now(),
          };
          await trx.insertInto('tenant_invoices').values(row).execute();
          return row;
        });
        scope.log('info', `invoicing: created draft invoice ${created.invoice_number} (${created.invoice_id}) for client ${created.client_id}`);
        return {
          success: true,
          invoiceId: created.invoice_id,
          invoiceNumber: created.invoice_number,
          status: created.status,
          subtotal: Number(created.subtotal),
          tax: Number(created.tax),
          total: Number(created.total_amount),
        };
      } catch (error) {
        if (error instanceof InvoiceRejected) return invoiceFailure(error.message, error.fieldErrors);
        throw error;
      }
    },

    async listInvoices(tenantId) {
      const rows = await db.selectFrom('tenant_invoices').selectAll().where('tenant', '=', tenantId).orderBy('sequence', 'desc').execute();
      return rows.map((r) => ({
        invoiceId: r.invoice_id,
        invoiceNumber: r.invoice_number,
        clientId: r.client_id,
        invoiceDate: r.invoice_date,
        dueDate: r.due_date,
        poNumber: r.po_number,
        status: r.status,
        subtotal: Number(r.subtotal),
        tax: Number(r.tax),
        total: Number(r.total_amount),
        isManual: Number(r.is_manual) === 1,
        installId: r.install_id,
        createdAt: new Date(Number(r.created_at)).toISOString(),
        items: JSON.parse(r.items_json) as StoredInvoiceItem[],
      }));
    },
  };
}
