/**
 * Invoicing backend that asks Alga, through the internal API Alga's runner calls
 * (alga-internal-api.ts; Alga's handler: ee/server/src/lib/extensions/invoicingInternalApi.ts):
 *
 *   POST {base}/api/internal/ext-invoicing/install/{installId}     x-runner-auth: <token>
 *   {operation: "createManualInvoice", clientId, items: [{serviceId, quantity, description, rate,
 *    isDiscount?, discountType?, appliesToItemId?, appliesToServiceId?}], invoiceDate?, dueDate?, poNumber?}
 *   → 201 {success: true, invoice: {invoiceId, invoiceNumber, status, subtotal, tax, total}}
 *   → 400 {success: false, error, fieldErrors?}; 401 {error, code}; 403 {success: false, error}; 404 {error}
 *
 * Absent options are left out of the body, never null (Alga's validator treats null as present).
 * The answer is read as Alga's runner reads it: each field at the top level or under `invoice`,
 * `invoice_id`-style names accepted too, `fieldErrors` handed to the guest as JSON text. A failed
 * call answers `success: false` with Alga's `error` and `fieldErrors` when the body carries them
 * (Alga's runner reports `http <status>: <body>`), else `http <status>`; an unreachable Alga
 * answers `transport failure`, an unreadable body `invalid JSON response`, as Alga's runner does.
 */
import { createAlgaInternalApi, jsonOf, upstreamMessage, type AlgaApiOptions } from './alga-internal-api.js';
import { manualInvoiceBody, type CreateManualInvoiceResult, type InvoicingBackend } from '../store/invoicing-model.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Alga's runner's parse_create_manual_invoice_result. */
export function parseManualInvoiceAnswer(body: unknown): CreateManualInvoiceResult {
  if (!isObject(body)) return { success: false, error: 'invalid response' };
  const invoice = isObject(body['invoice']) ? body['invoice'] : undefined;
  const pick = (keys: string[], ok: (v: unknown) => boolean, nested = true): unknown => {
    for (const key of keys) {
      if (ok(body[key])) return body[key];
      if (nested && invoice && ok(invoice[key])) return invoice[key];
    }
    return undefined;
  };
  const isString = (v: unknown) => typeof v === 'string';
  const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const fe = body['fieldErrors'] ?? body['field_errors'];
  const result: CreateManualInvoiceResult = {
    success: body['success'] === true,
    invoiceId: pick(['invoiceId', 'invoice_id'], isString) as string | undefined,
    invoiceNumber: pick(['invoiceNumber', 'invoice_number'], isString) as string | undefined,
    status: pick(['status'], isString) as string | undefined,
    subtotal: pick(['subtotal'], isNumber) as number | undefined,
    tax: pick(['tax'], isNumber) as number | undefined,
    total: pick(['total'], isNumber) as number | undefined,
    error: pick(['error'], isString, false) as string | undefined,
    fieldErrors: fe === undefined || fe === null ? undefined : typeof fe === 'string' ? fe : JSON.stringify(fe),
  };
  return Object.fromEntries(Object.entries(result).filter(([, v]) => v !== undefined)) as unknown as CreateManualInvoiceResult;
}

export function createAlgaApiInvoicing(options: AlgaApiOptions): InvoicingBackend {
  const api = createAlgaInternalApi(options);
  return {
    async createManualInvoice(scope, input) {
      const answer = await api.post('invoicing', scope.installId, { ...manualInvoiceBody(input), operation: 'createManualInvoice' }, scope.signal);
      if (answer.kind === 'unreachable') {
        scope.log('error', `invoicing: Alga invoicing API call failed: ${answer.message}`);
        return { success: false, error: 'transport failure' };
      }
      const { status, text } = answer;
      if (text === undefined) {
        scope.log('error', `invoicing: Alga invoicing API answer is larger than ${api.maxResponseBytes} bytes`);
        return { success: false, error: 'invalid JSON response' };
      }
      const body = jsonOf(text);
      if (status < 200 || status > 299) {
        scope.log(status >= 500 ? 'error' : 'warn', `invoicing: Alga invoicing API answered HTTP ${status}${upstreamMessage(text)}`);
        const parsed = isObject(body) ? parseManualInvoiceAnswer(body) : undefined;
        return { success: false, error: parsed?.error ?? `http ${status}`, ...(parsed?.fieldErrors ? { fieldErrors: parsed.fieldErrors } : {}) };
      }
      if (text.trim() !== '' && body === undefined) {
        scope.log('error', 'invoicing: Alga invoicing API answer is not JSON');
        return { success: false, error: 'invalid JSON response' };
      }
      return parseManualInvoiceAnswer(body ?? null);
    },
  };
}
