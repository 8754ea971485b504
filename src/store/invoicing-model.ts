/**
 * Draft manual invoices (cap:invoice.manual.create, `alga:extension/invoicing` of wit/alga/world.wit):
 * the backend interface, the request body Alga's runner sends for a guest's input (absent options
 * omitted, never null), and Alga's validation of that body (Nine-Minds/alga-psa
 * ee/server/src/lib/extensions/invoicingValidation.ts), which the store backend applies as is:
 *
 *  - clientId and every item's serviceId: UUIDs (`Required` / `Invalid UUID`);
 *  - at least one item; description required, ≤ 500 characters; quantity > 0; rate ≥ 0;
 *  - a discount (`isDiscount`) needs a discountType, a percentage rate is 0..100; a non-discount
 *    item may have neither a discountType nor appliesTo*; at most one appliesTo*, each a UUID;
 *  - invoiceDate / dueDate `YYYY-MM-DD`; poNumber ≤ 128 characters.
 * Problems come back all at once: `{error: "Validation error", fieldErrors: {"items[0].rate": ...}}`.
 */
import type { ExecutionUser } from '../contract/index.js';
import type { CreateManualInvoiceInput, CreateManualInvoiceResult } from '../generated/wit/alga.js';

export type { CreateManualInvoiceInput, CreateManualInvoiceResult } from '../generated/wit/alga.js';

export interface InvoicingScope {
  readonly tenantId: string;
  readonly installId: string;
  readonly user: ExecutionUser | null;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
  readonly signal?: AbortSignal;
}

export interface InvoicingBackend {
  createManualInvoice(scope: InvoicingScope, input: CreateManualInvoiceInput): Promise<CreateManualInvoiceResult>;
}

/** One line item of the request body (camelCase; absent options left out). */
export interface ManualInvoiceItemBody {
  serviceId: string;
  quantity: number;
  description: string;
  rate: number;
  isDiscount?: boolean;
  discountType?: 'percentage' | 'fixed';
  appliesToItemId?: string;
  appliesToServiceId?: string;
}

export interface ManualInvoiceBody {
  clientId: string;
  items: ManualInvoiceItemBody[];
  invoiceDate?: string;
  dueDate?: string;
  poNumber?: string;
}

/** The body Alga's runner posts for a guest's `create-manual-invoice-input` (a non-finite number is sent as 0, as serde_json does). */
export function manualInvoiceBody(input: CreateManualInvoiceInput): ManualInvoiceBody {
  const finite = (n: number) => (Number.isFinite(n) ? n : 0);
  return {
    clientId: input.clientId,
    items: input.items.map((item) => ({
      serviceId: item.serviceId,
      quantity: finite(item.quantity),
      description: item.description,
      rate: finite(item.rate),
      ...(item.isDiscount !== undefined ? { isDiscount: item.isDiscount } : {}),
      ...(item.discountType !== undefined ? { discountType: item.discountType } : {}),
      ...(item.appliesToItemId !== undefined ? { appliesToItemId: item.appliesToItemId } : {}),
      ...(item.appliesToServiceId !== undefined ? { appliesToServiceId: item.appliesToServiceId } : {}),
    })),
    ...(input.invoiceDate !== undefined ? { invoiceDate: input.invoiceDate } : {}),
    ...(input.dueDate !== undefined ? { dueDate: input.dueDate } : {}),
    ...(input.poNumber !== undefined ? { poNumber: input.poNumber } : {}),
  };
}

/** A validated request: trimmed strings, blank dates and PO number dropped. */
export interface ValidManualInvoice {
  readonly clientId: string;
  readonly items: readonly ValidInvoiceItem[];
  readonly invoiceDate: string | undefined;
  readonly dueDate: string | undefined;
  readonly poNumber: string | undefined;
}

export interface ValidInvoiceItem {
  readonly serviceId: string;
  readonly quantity: number;
  readonly description: string;
  readonly rate: number;
  readonly isDiscount: boolean;
  readonly discountType: 'percentage' | 'fixed' | undefined;
  readonly appliesToItemId: string | undefined;
  readonly appliesToServiceId: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

export type InvoiceValidation = { readonly ok: true; readonly value: ValidManualInvoice } | { readonly ok: false; readonly error: string; readonly fieldErrors: Record<string, string> };

export function validateManualInvoice(body: ManualInvoiceBody): InvoiceValidation {
  const errors: Record<string, string> = {};
  const add = (field: string, message: string) => {
    if (!(field in errors)) errors[field] = message;
  };
  const uuid = (value: string | undefined, field: string): string | undefined => {
    const v = value?.trim();
    if (!v) return void add(field, 'Required');
    if (!UUID.test(v)) return void add(field, 'Invalid UUID');
    return v;
  };
  const date = (value: string | undefined, field: string): string | undefined => {
    const v = value?.trim();
    if (!v) return undefined;
    if (!ISO_DATE.test(v)) return void add(field, 'Invalid date (expected YYYY-MM-DD)');
    return v;
  };

  const clientId = uuid(body.clientId, 'clientId');
  const items: ValidInvoiceItem[] = [];
  if (body.items.length === 0) add('items', 'Must include at least one item');
  body.items.forEach((raw, idx) => {
    const at = `items[${idx}]`;
    const serviceId = uuid(raw.serviceId, `${at}.serviceId`);
    const description = raw.description.trim();
    if (!description) add(`${at}.description`, 'Required');
    if (description.length > 500) add(`${at}.description`, 'Too long');
    const { quantity, rate } = raw;
    if (!Number.isFinite(quantity) || quantity <= 0) add(`${at}.quantity`, 'Must be > 0');
    if (!Number.isFinite(rate) || rate < 0) add(`${at}.rate`, 'Must be >= 0');
    const isDiscount = raw.isDiscount ?? false;
    const discountType = raw.discountType;
    if (isDiscount) {
      if (!discountType) add(`${at}.discountType`, 'Required when isDiscount=true');
      if (discountType === 'percentage' && Number.isFinite(rate) && (rate < 0 || rate > 100)) add(`${at}.rate`, 'Percentage discount rate must be between 0 and 100');
    } else {
      if (discountType) add(`${at}.discountType`, 'Not allowed unless isDiscount=true');
      if (raw.appliesToItemId !== undefined || raw.appliesToServiceId !== undefined) add(at, 'appliesTo* fields require isDiscount=true');
    }
    const appliesToItemId = raw.appliesToItemId === undefined ? undefined : uuid(raw.appliesToItemId, `${at}.appliesToItemId`);
    const appliesToServiceId = raw.appliesToServiceId === undefined ? undefined : uuid(raw.appliesToServiceId, `${at}.appliesToServiceId`);
    if (appliesToItemId && appliesToServiceId) add(at, 'Provide only one of appliesToItemId or appliesToServiceId');
    if (serviceId && description && quantity > 0 && rate >= 0) items.push({ serviceId, quantity, description, rate, isDiscount, discountType, appliesToItemId, appliesToServiceId });
  });
  const invoiceDate = date(body.invoiceDate, 'invoiceDate');
  const dueDate = date(body.dueDate, 'dueDate');
  const poNumber = body.poNumber?.trim() || undefined;
  if (poNumber && poNumber.length > 128) add('poNumber', 'Too long');

  if (Object.keys(errors).length > 0 || !clientId) return { ok: false, error: 'Validation error', fieldErrors: errors };
  return { ok: true, value: { clientId, items, invoiceDate, dueDate, poNumber } };
}

/** `create-manual-invoice-result` of a failure. */
export function invoiceFailure(error: string, fieldErrors?: Record<string, string>): CreateManualInvoiceResult {
  return { success: false, error, ...(fieldErrors ? { fieldErrors: JSON.stringify(fieldErrors) } : {}) };
}
